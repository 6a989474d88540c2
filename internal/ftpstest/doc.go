// Package ftpstest is an in-process FTPS server for tests of encrypted FXP:
// the behaviours of TLS servers that no real server on the test machine
// has, one switch per behaviour (Options).
//
//	a := ftpstest.Start(t, ftpstest.Options{Name: "a", Addr: ips[0], CPSV: ftpstest.ExtListed})
//	c, _ := ftpclient.New(a.Config(), nil)
//
// It speaks explicit TLS (AUTH TLS, PBSZ, PROT P/C) on the control and data
// connections with a certificate of the test CA of internal/realftpd (so
// that it and the real proftpd/pure-ftpd instances trust each other), and
// serves a directory on disk: USER/PASS, FEAT, SYST, TYPE, OPTS, NOOP,
// PWD, CWD, PASV, EPSV, PORT, EPRT, REST, RETR, STOR, APPE, SIZE, MDTM, MFMT,
// MLST, MLSD, LIST, DELE, RNFR, RNTO, MKD, RMD, SITE CHMOD, ABOR, QUIT.
//
// The two extensions that let two TLS servers make a data connection
// between themselves (both would otherwise wait as the TLS server):
//
//   - SSCN ON|OFF (proftpd's mod_tls, glftpd, DrFTPD, FileZilla Server):
//     with SSCN ON the server is the TLS client of its data connections,
//     whichever end opened the TCP connection, until SSCN OFF ("200
//     SSCN:CLIENT METHOD" / "200 SSCN:SERVER METHOD"; SSCN alone asks).
//   - CPSV (glftpd, DrFTPD): PASV, and the server is the TLS client of the
//     one data connection it then accepts.
//
// How the server treats each (Options.SSCN, Options.CPSV: Ext): not at all,
// found only by trying, listed in FEAT, listed but refused, accepted but the
// transfer then answered at once with a reply of choice (a server that
// cannot in fact do it), or accepted and ignored (it stays the TLS server,
// so that both ends wait for a ClientHello until their handshake timeout).
// Further switches: whether the TLS client role checks the peer's
// certificate, whether a data connection it serves must resume the control
// connection's TLS session (vsftpd's require_ssl_reuse), how clear data is
// treated (accepted, PROT C refused, or 522 at the transfer), and a TLS
// data connection cut part way (no close_notify: 426 at both ends).
//
// Every data connection is recorded (Server.DataConns): command, which end
// opened it, the TLS role taken, whether the session was resumed, bytes,
// and the final reply, so that a test can tell which server was the TLS
// client; Server.Commands lists the commands received (passwords redacted).
//
// Why hand-written rather than on goftp.io/server (internal/ftptest):
// goftp's server decides the TLS role of data connections itself and has
// no hook to make the server the TLS client, to hand a data connection a
// session of another control connection's, or to answer a transfer with a
// reply of choice; those are what this package is for.
package ftpstest
