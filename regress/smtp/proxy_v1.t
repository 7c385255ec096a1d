# PROXY protocol v1 from a listed balancer: the client address in the
# header is the one that counts (it shows in the EHLO reply).
listener plain
proxy-from 127.0.0.1
C> PROXY TCP4 192.0.2.77 127.0.0.1 40000 25\r\n
S: 220
C: EHLO client.example
S: 250
S? mx.postern.test Hello client.example [192.0.2.77]
