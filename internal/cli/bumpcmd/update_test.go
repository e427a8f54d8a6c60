package bumpcmd_test

// The golden tests of the commands take -update (go test ./internal/cli/...
// -update rewrites their files): every test binary under internal/cli must
// know the flag, which clitest defines.
import _ "github.com/shiplog-dev/shiplog/internal/cli/clitest"
