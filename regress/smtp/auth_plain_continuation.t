# AUTH PLAIN after an empty "334 " challenge (curl, PHPMailer, s-nail);
# the challenge has no enhanced code.
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN
S: 334
C: {T:plain}
S: 235 2.7.0
C: MAIL FROM:<alice@example.com>
S: 250 2.1.0
