package segment

import (
	"testing"

	"dinmo/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
