#include "policy.h"

#include <sys/socket.h>

namespace dnsverdict {

namespace {

Action graded(const Rule& rule, std::uint8_t tag, std::uint8_t block) noexcept {
  if (!is_blocking(rule.action)) return rule.action;
  if (rule.confidence >= block) return rule.action;
  if (rule.confidence >= tag) return Action::kTag;
  return Action::kLog;
}

bool applies_to(const ClientGroup& group, const Rule& rule, const VerdictStore& store) noexcept {
  if (group.categories.empty() && group.campaigns.empty()) return true;
  const CampaignRecord* campaign = store.campaign(rule.campaign);
  return group.applies(store.category(rule.category),
                       campaign != nullptr ? std::string_view(campaign->name) : std::string_view());
}

bool blocks_group(const Rule& rule, const VerdictStore& store, const ModuleConfig& config,
                  const ClientGroup& group) noexcept {
  return group.mode == GroupMode::kEnforce && is_blocking(graded_action(rule, config, group)) &&
         applies_to(group, rule, store);
}

}  // namespace

Action graded_action(const Rule& rule, const ModuleConfig& config) noexcept {
  return graded_action(rule, config, config.default_group);
}

Action graded_action(const Rule& rule, const ModuleConfig& config,
                     const ClientGroup& group) noexcept {
  return graded(rule, group.confidence_tag.value_or(config.confidence_tag),
                group.confidence_block.value_or(config.confidence_block));
}

bool blocks_anyone(const Rule& rule, const VerdictStore& store, const ModuleConfig& config) noexcept {
  if (rule.action == Action::kAllow || !is_blocking(rule.action)) return false;
  if (blocks_group(rule, store, config, config.default_group)) return true;
  for (const ClientGroup& group : config.groups) {
    if (blocks_group(rule, store, config, group)) return true;
  }
  return false;
}

namespace {

// The sinkhole data for a rule: its own, else its campaign's, else the configured default.
std::string_view sinkhole_data(const Rule& rule, const VerdictStore& store,
                               const ModuleConfig& config) noexcept {
  if (!rule.data.empty()) return rule.data;
  if (rule.campaign != 0) {
    if (const CampaignRecord* campaign = store.campaign(rule.campaign);
        campaign != nullptr && !campaign->sinkhole.empty()) {
      return campaign->sinkhole;
    }
  }
  return config.default_sinkhole;
}

}  // namespace

Decision decide(const LookupResult& lookup, const VerdictStore& store, const ModuleConfig& config,
                const QueryContext& query) noexcept {
  Decision decision;
  if (!lookup.hit()) return decision;
  const Rule& rule = lookup.rule;
  if (rule.action == Action::kAllow) return decision;  // allowlisted: no verdict, no line

  const ClientGroup& group = query.group != nullptr ? *query.group : config.default_group;
  decision.blocks_someone = blocks_anyone(rule, store, config);
  if (!applies_to(group, rule, store)) return decision;  // not this group's business: no line

  Action action = graded_action(rule, config, group);
  decision.hit = true;
  decision.applied = action;
  if (action != rule.action) {
    decision.note = action == Action::kTag ? "below-block-threshold" : "below-tag-threshold";
  }
  if (!is_blocking(action)) return decision;
  if (query.client_exempt) {
    decision.applied = Action::kLog;
    decision.note = "exempt-client";
    return decision;
  }
  if (group.mode == GroupMode::kMonitor) {
    decision.applied = Action::kLog;
    decision.note = "monitor-group";
    return decision;
  }

  switch (action) {
    case Action::kNxdomain: decision.response = Response::kNxdomain; break;
    case Action::kNodata: decision.response = Response::kNodata; break;
    case Action::kRefuse: decision.response = Response::kRefuse; break;
    case Action::kDrop: decision.response = Response::kDrop; break;
    case Action::kTcpOnly:
      if (query.udp) {
        decision.response = Response::kTruncate;
      } else {
        decision.applied = Action::kLog;
        decision.note = "tcp-only-over-tcp";
      }
      break;
    case Action::kSinkhole: {
      decision.response = Response::kNodata;  // other types, or no address of the type
      int family = query.qtype == kTypeA ? AF_INET : query.qtype == kTypeAaaa ? AF_INET6 : 0;
      std::string_view data = sinkhole_data(rule, store, config);
      if (family != 0 && for_each_address(data, family, [](const std::uint8_t*) {}) > 0) {
        decision.response = Response::kSinkhole;
        decision.sinkhole = data;
      }
      break;
    }
    case Action::kRedirect: {
      auto wire = reinterpret_cast<const std::uint8_t*>(rule.data.data());
      if (wire_name_length(wire, rule.data.size()) == rule.data.size() && !rule.data.empty()) {
        decision.response = Response::kRedirect;
        decision.redirect_target = rule.data;
      } else {
        decision.response = Response::kNxdomain;  // a redirect without a usable target
        decision.note = "redirect-without-target";
      }
      break;
    }
    case Action::kLog:
    case Action::kTag:
    case Action::kAllow: break;  // not blocking: handled above
  }
  return decision;
}

std::string ede_text(const Decision& decision, const LookupResult& lookup,
                     const VerdictStore& store) {
  std::string text = "dnsverdict: ";
  text += action_name(decision.applied);
  if (const CampaignRecord* campaign = store.campaign(lookup.rule.campaign);
      campaign != nullptr && !campaign->name.empty()) {
    text += " (campaign ";
    text += campaign->name;
    text += ')';
  } else if (std::string_view category = store.category(lookup.rule.category); !category.empty()) {
    text += " (category ";
    text += category;
    text += ')';
  }
  return text;
}

void fill_hit_record(HitRecord& record, const Decision& decision, const LookupResult& lookup,
                     const VerdictStore& store, std::string_view qname_wire, std::uint16_t qtype,
                     std::int64_t time_us) noexcept {
  const Rule& rule = lookup.rule;
  record.time_us = time_us;
  record.qtype = qtype;
  record.action_applied = decision.applied;
  record.rule_action = rule.action;
  record.kind = rule.kind;
  record.confidence = rule.confidence;
  record.qname_wire.assign(qname_wire);
  record.rule_key.assign(lookup.owner_key);
  const CampaignRecord* campaign = store.campaign(rule.campaign);
  record.campaign.assign(campaign != nullptr ? std::string_view(campaign->name) : "");
  record.category.assign(store.category(rule.category));
  const SourceRecord* source = store.source(rule.source);
  record.source.assign(source != nullptr ? std::string_view(source->file) : "");
  record.build_id.assign(store.info().build_id);
  record.note.assign(decision.note);
}

}  // namespace dnsverdict
