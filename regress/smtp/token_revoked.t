# A token deleted while its session is open takes no new message: the
# next MAIL finds out from authd and the session ends.
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {T:plain}
S: 235
C: MAIL FROM:<alice@example.com>
S: 250
C: RSET
S: 250
REVOKE T
C: MAIL FROM:<alice@example.com>
S: 421 4.7.0 mx.postern.test token revoked
CLOSED
QUEUED 0
