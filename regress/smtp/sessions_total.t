# "limit sessions": past it a new connection is refused at connect with
# 421 4.7.0, before anything else happens.
listener plain
limit sessions 2
S: 220
OPEN
S: 220
OPEN
S: 421 4.7.0
CLOSED
