package integration_test

import (
	"os"
	"testing"

	"github.com/eddy-streams/eddy/integration/kafkatest"
)

var kafka = kafkatest.NewShared()

func TestMain(m *testing.M) { os.Exit(kafka.Run(m)) }
