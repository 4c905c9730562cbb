// Package e2e holds end-to-end tests of the destination platforms: for each service of Braze,
// HubSpot and Meta Ads, a real runner syncs the demo dataset (package demodata) from DuckDB to
// the platform's contract-enforcing fake, reached through the destination's API base URL. A
// first run sends everything, the warehouse then changes in known ways, and a delta run must
// send exactly the difference; each test asserts the requests the fake received on each run
// and the state it ends with.
//
// The package has no code besides its tests.
package e2e
