# No password crosses the wire in clear: AUTH before STARTTLS is refused,
# and so is mail without AUTH.
listener starttls
token T alice@example.com
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {T:plain}
S: 530 5.7.0
C: AUTH LOGIN
S: 530 5.7.0
C: MAIL FROM:<alice@example.com>
S: 530 5.7.0
C: QUIT
S: 221
QUEUED 0
