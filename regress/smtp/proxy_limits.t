# Behind a balancer, limits count the real clients: all three connections
# come from the balancer, but only the second one from 192.0.2.1 is over
# "limit sessions-per-client 1".
listener plain
proxy-from 127.0.0.1
limit sessions-per-client 1
C> PROXY TCP4 192.0.2.1 127.0.0.1 1000 25\r\n
S: 220
OPEN
C> PROXY TCP4 192.0.2.2 127.0.0.1 1000 25\r\n
S: 220
OPEN
C> PROXY TCP4 192.0.2.1 127.0.0.1 1001 25\r\n
S: 421 4.7.0
CLOSED
