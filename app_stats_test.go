package eddy

import "testing"

// The engine publishes its totals into the App's engine.Stats; Stats reads each of them
// (running an App needs a broker, so the engine's side is tested in internal/engine).
func TestStatsReportTheEnginesTotals(t *testing.T) {
	app, err := New(passThrough(t), ApplicationID("stats"), SeedBrokers("127.0.0.1:9092"), StateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	app.stats.Processed.Store(7)
	app.stats.SkippedUndecodable.Store(2)
	app.stats.DroppedRecords.Store(3)
	if got, want := app.Stats(), (Stats{Processed: 7, SkippedUndecodable: 2, DroppedRecords: 3}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}
