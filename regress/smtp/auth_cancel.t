# "*" cancels an AUTH exchange; a broken base64 response is a syntax error.
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH LOGIN
S: 334
C: *
S: 501 5.0.0
C: AUTH PLAIN
S: 334
C: not base64!
S: 501 5.5.2
C: AUTH CRAM-MD5
S: 504 5.5.4
C: AUTH PLAIN {T:plain}
S: 235
