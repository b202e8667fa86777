/* C accessors for Unbound structures the C++ glue cannot include (client.c). */
#ifndef DNSVERDICT_UNBOUND_CLIENT_H
#define DNSVERDICT_UNBOUND_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct comm_reply;
struct module_qstate;

/* A client as the module needs it: address in network byte order (4 octets for AF_INET). */
struct dnsverdict_client {
	int family;           /* AF_INET, AF_INET6, or 0 when unknown */
	uint8_t address[16];
	uint16_t port;        /* host byte order */
	int is_udp;
};

/* The client of a reply (its PROXYv2-aware client_addr). Returns the family, 0 if none. */
int dnsverdict_reply_client(const struct comm_reply* reply, struct dnsverdict_client* client);
/* The first client waiting for a query state; 0 when none waits (prefetch, sub-query). */
int dnsverdict_first_client(struct module_qstate* qstate, struct dnsverdict_client* client);
/* 1 when the query state answers another query state (iterator or validator lookup). */
int dnsverdict_is_subquery(struct module_qstate* qstate);

/* For the client whose reply is being sent: clears AD in its query flags and DO in its EDNS
 * bits, so a synthesized (blocked) answer is not marked as validated. */
void dnsverdict_unmark_secure(struct module_qstate* qstate, const struct comm_reply* reply);

/* The delegation the iterator is asking for this query state (its name servers, as RPZ's
 * NSDNAME and NSIP triggers see them): calls visit_name for each name server's name (wire),
 * then visit_address for each address it knows for them (4 or 16 octets, network order),
 * until one returns nonzero. Returns 1 when a visit stopped it, 0 otherwise (also when no
 * iterator runs or it has no delegation). */
int dnsverdict_visit_delegation(struct module_qstate* qstate,
	int (*visit_name)(const uint8_t* name, size_t size, void* argument),
	int (*visit_address)(const uint8_t* address, size_t size, void* argument),
	void* argument);

#ifdef __cplusplus
}
#endif
#endif
