package sqlite_test

import (
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func TestAccessConformance(t *testing.T) { storetest.RunAccess(t, openTemp) }
