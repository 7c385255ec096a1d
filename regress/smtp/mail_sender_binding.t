# A token sends as its own address only: another sender or <> is refused
# with 553 5.7.1; case does not matter (local-part-case insensitive).
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {T:plain}
S: 235
C: MAIL FROM:<bob@example.com>
S: 553 5.7.1
C: MAIL FROM:<>
S: 553 5.7.1
C: MAIL FROM:<ALICE@Example.COM>
S: 250 2.1.0
C: RSET
S: 250 2.0.0
