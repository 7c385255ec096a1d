# "limit sessions-per-client": one more session from the same address is
# refused at connect with 421 4.7.0; when one ends, a new one is welcome.
listener plain
limit sessions-per-client 2
S: 220
OPEN
S: 220
OPEN
S: 421 4.7.0
CLOSED
CLOSEALL
SLEEP 1
CONNECT
S: 220
