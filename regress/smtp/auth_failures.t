# Wrong tokens: a well-formed unknown one (authd says no), a mistyped one
# (refused here, same reply), then the limit ends the session with 421.
listener tls
limit auth-failures 3
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {b64:\0alice@example.com\0pstn_00000000000000000000000000000h7sxj3}
S: 535 5.7.8
C: AUTH PLAIN {b64:\0alice@example.com\0not-a-token}
S: 535 5.7.8
C: AUTH LOGIN
S: 334
C: {T:user}
S: 334
C: {b64:pstn_wrong}
S: 421 4.7.0
CLOSED
