# PROXY protocol v2 (binary), IPv6 client, on the implicit-TLS listener:
# the TLS handshake follows the header directly.
listener tls
proxy-from 127.0.0.1
C> \r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x9c\x40\x01\xd1
TLS
S: 220
C: EHLO client.example
S: 250
S? mx.postern.test Hello client.example [2001:db8::9]
