/* The few accesses to Unbound structures whose headers do not compile as C++
 * (util/netevent.h: struct comm_reply, struct comm_point; services/mesh.h embeds them).
 * Declared in client.h for the C++ glue. */
#include "config.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "iterator/iter_delegpt.h"
#include "iterator/iterator.h"
#include "services/mesh.h"
#include "services/modstack.h"
#include "util/module.h"
#include "util/net_help.h"
#include "util/netevent.h"

#include "unbound/client.h"

int dnsverdict_reply_client(const struct comm_reply* reply, struct dnsverdict_client* client)
{
	const struct sockaddr_storage* address;
	memset(client, 0, sizeof(*client));
	if(!reply)
		return 0;
	client->is_udp = reply->c && reply->c->type == comm_udp;
	address = &reply->client_addr; /* PROXYv2-aware: the real client */
	if(address->ss_family == AF_INET) {
		const struct sockaddr_in* in = (const struct sockaddr_in*)address;
		client->family = AF_INET;
		memcpy(client->address, &in->sin_addr, 4);
		client->port = ntohs(in->sin_port);
	} else if(address->ss_family == AF_INET6) {
		const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)address;
		client->family = AF_INET6;
		memcpy(client->address, &in6->sin6_addr, 16);
		client->port = ntohs(in6->sin6_port);
	}
	return client->family;
}

int dnsverdict_first_client(struct module_qstate* qstate, struct dnsverdict_client* client)
{
	struct mesh_state* state = qstate ? qstate->mesh_info : NULL;
	memset(client, 0, sizeof(*client));
	if(!state || !state->reply_list)
		return 0;
	return dnsverdict_reply_client(&state->reply_list->query_reply, client);
}

int dnsverdict_is_subquery(struct module_qstate* qstate)
{
	struct mesh_state* state = qstate ? qstate->mesh_info : NULL;
	return state && state->super_set.count > 0;
}

void dnsverdict_unmark_secure(struct module_qstate* qstate, const struct comm_reply* reply)
{
	struct mesh_state* state = qstate ? qstate->mesh_info : NULL;
	struct mesh_reply* r;
	if(!state || !reply)
		return;
	/* The encoder sets AD when the real answer validated and the client asked with AD or
	 * DO: a synthesized answer must not inherit that. */
	for(r = state->reply_list; r; r = r->next) {
		if(&r->query_reply == reply) {
			r->qflags &= ~BIT_AD;
			r->edns.bits &= ~EDNS_DO;
		}
	}
}

int dnsverdict_visit_delegation(struct module_qstate* qstate,
	int (*visit_name)(const uint8_t* name, size_t size, void* argument),
	int (*visit_address)(const uint8_t* address, size_t size, void* argument),
	void* argument)
{
	struct iter_qstate* iq;
	struct delegpt_ns* ns;
	struct delegpt_addr* target;
	int id;
	if(!qstate || !qstate->env || !qstate->env->mesh)
		return 0;
	id = modstack_find(&qstate->env->mesh->mods, "iterator");
	if(id < 0 || id >= MAX_MODULE)
		return 0;
	iq = (struct iter_qstate*)qstate->minfo[id];
	if(!iq || !iq->dp)
		return 0;
	for(ns = iq->dp->nslist; ns; ns = ns->next)
		if(visit_name && visit_name(ns->name, ns->namelen, argument))
			return 1;
	for(target = iq->dp->target_list; target; target = target->next_target) {
		const struct sockaddr_storage* address = &target->addr;
		int stop = 0;
		if(!visit_address)
			break;
		if(address->ss_family == AF_INET)
			stop = visit_address((const uint8_t*)&((const struct sockaddr_in*)
				address)->sin_addr, 4, argument);
		else if(address->ss_family == AF_INET6)
			stop = visit_address((const uint8_t*)&((const struct sockaddr_in6*)
				address)->sin6_addr, 16, argument);
		if(stop)
			return 1;
	}
	return 0;
}
