# EHLO on a no-auth plain listener: the extensions, and neither AUTH nor
# STARTTLS.  No enhanced code on the EHLO reply (RFC 2034 section 3).
listener plain
S: 220
C: EHLO client.example
S: 250 HELP
S? mx.postern.test Hello client.example [127.0.0.1]
S? PIPELINING
S? 8BITMIME
S? SMTPUTF8
S? SIZE 36700160
S? ENHANCEDSTATUSCODES
S? CHUNKING
S! AUTH
S! STARTTLS
S! 2.
C: HELO client.example
S: 250 mx.postern.test
C: AUTH PLAIN AGFAYgBj
S: 503 5.5.1
