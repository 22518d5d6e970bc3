package integration_test

import (
	"os"
	"testing"

	"github.com/eddy-streams/eddy/integration/kafkatest"
)

var kafka = kafkatest.NewShared()

func TestMain(m *testing.M) {
	// The crash tests run instances as child processes of this test binary, so that
	// they can be killed for real.
	if os.Getenv(childInstanceEnv) != "" {
		os.Exit(runChildInstance())
	}
	os.Exit(kafka.Run(m))
}
