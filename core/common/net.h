/*
 * net.h - socket address helpers shared by the listeners (the Restate
 * endpoint and the admin API): parsing "HOST:PORT" and reading a bound
 * port back.
 */
#ifndef CORE_COMMON_NET_H
#define CORE_COMMON_NET_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * Parse text, "A.B.C.D:PORT" or "[V6]:PORT" with a numeric host and a port
 * of 0-65535, into *addr and its length *len.  Names are not resolved.
 * Returns 0, or -1 when text has another form (addr is then unspecified).
 * Pure; any thread.
 */
int core_addr_parse(const char *text, struct sockaddr_storage *addr,
                    socklen_t *len);

/* The port of an AF_INET or AF_INET6 address, in host order. */
uint16_t core_addr_port(const struct sockaddr_storage *addr);

#endif /* CORE_COMMON_NET_H */
