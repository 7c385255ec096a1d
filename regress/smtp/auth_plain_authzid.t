# mutt sends the authorization identity equal to the user: accepted.
# Acting as someone else is not: refused like a wrong token.
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {b64:bob@example.com\0alice@example.com\0{T}}
S: 535 5.7.8
C: AUTH PLAIN {T:plainz}
S: 235 2.7.0
