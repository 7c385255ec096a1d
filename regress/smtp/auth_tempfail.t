# authd cannot answer: 454 4.7.0, try again later.
listener tls
authd tempfail
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {T:plain}
S: 454 4.7.0
