# The submission port: STARTTLS before TLS and no AUTH; after TLS, AUTH
# and no STARTTLS.
listener starttls
S: 220
C: EHLO client.example
S: 250 HELP
S? STARTTLS
S! AUTH
C: STARTTLS
S: 220 2.0.0
TLS
C: EHLO client.example
S: 250 HELP
S? AUTH PLAIN LOGIN
S! STARTTLS
C: STARTTLS
S: 503 5.5.1
