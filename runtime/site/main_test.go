package site

import (
	"os"
	"testing"

	"switchboard/runtime/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }
