# Unknown commands count as errors; at "limit errors" the session ends
# with 421.
listener plain
limit errors 3
S: 220
C: EHLO client.example
S: 250
C: FOO
S: 500 5.5.2
C: BAR baz
S: 500 5.5.2
C: WIBBLE
S: 500 5.5.2
S: 421 4.7.0
CLOSED
