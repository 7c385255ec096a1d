# Implicit TLS (port 465): the greeting comes inside TLS, AUTH is offered
# at once, STARTTLS is not.
listener tls
TLS
S: 220 mx.postern.test
C: EHLO client.example
S: 250 HELP
S? AUTH PLAIN LOGIN
S! STARTTLS
C: STARTTLS
S: 502 5.5.1
