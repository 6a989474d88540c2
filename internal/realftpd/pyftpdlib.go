package realftpd

import (
	"os/exec"
	"path/filepath"
	"strconv"
)

// Pyftpdlib is Debian's python3-pyftpdlib (1.5), an asynchronous server: it
// answers a transfer command at once (150 before the data connection
// exists) and drops a data connection whose data arrives before the
// transfer command.
const Pyftpdlib Kind = "pyftpdlib"

// pyftpdScript runs pyftpdlib with one user; argv: host port root user
// password fxp(0|1). Options.FXP sets permit_foreign_addresses (PORT to, and
// passive connections from, another address than the client's).
const pyftpdScript = `
import logging, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
host, port, root, user, password, fxp = sys.argv[1:7]
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
auth = DummyAuthorizer()
auth.add_user(user, password, root, perm="elradfmwMT")
FTPHandler.authorizer = auth
FTPHandler.permit_foreign_addresses = fxp == "1"
FTPHandler.banner = "pyftpdlib ready"
FTPServer((host, int(port)), FTPHandler).serve_forever()
`

// StartPyftpdlib starts a private pyftpdlib (python3 -c, Debian's
// python3-pyftpdlib) for the test and stops it at cleanup. It runs as root
// and writes files as root (UID, GID 0). Options.MaxClients, MaxRate,
// PassivePorts and TLS are not supported and fail the test.
func StartPyftpdlib(t TB, opts Options) *Server {
	t.Helper()
	skipShort(t)
	const py = "/usr/bin/python3" // Debian's, where python3-pyftpdlib installs
	if !isExec(py) || exec.Command(py, "-c", "import pyftpdlib").Run() != nil {
		missing(t, "pyftpdlib not found for /usr/bin/python3 (apt-get install python3-pyftpdlib)")
	}
	if opts.MaxClients != 0 || opts.MaxRate != 0 || opts.PassivePorts[0] != 0 || opts.TLS {
		t.Fatalf("realftpd: pyftpdlib: MaxClients, MaxRate, PassivePorts and TLS are not supported")
	}
	srv, state := newServer(t, Pyftpdlib, &opts, false)
	srv.User, srv.Password = "fxpfs", randomPassword(t)
	srv.LogFile = filepath.Join(state, "output.log")
	fxp := "0"
	if opts.FXP {
		fxp = "1"
	}
	srv.launch(t, opts, []string{py, "-c", pyftpdScript, srv.Host, strconv.Itoa(srv.Port), srv.Root, srv.User, srv.Password, fxp},
		srv.LogFile)
	return srv
}
