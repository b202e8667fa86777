#include "module_chain.h"

#include <vector>

namespace dnsverdict {
namespace {

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t start = text.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    std::size_t end = text.find_first_of(" \t", start);
    if (end == std::string_view::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    at = end;
  }
  return words;
}

}  // namespace

std::string check_module_chain(std::string_view module_config, int position) {
  std::vector<std::string_view> modules = words_of(module_config);
  if (position != 0 || modules.empty() || modules[0] != "dynlib") {
    return "module-config \"" + std::string(module_config) +
           "\": dynlib must come first, before any module that can answer or cache a query";
  }
  bool iterator = false;
  for (std::size_t i = 1; i < modules.size(); ++i) {
    std::string_view module = modules[i];
    if (module == "iterator") {
      iterator = true;
    } else if (module != "validator" && module != "dns64") {
      return "module-config \"" + std::string(module_config) + "\": module " +
             std::string(module) + " is not supported with dnsverdict (its answers or cache " +
             "could pass listed names unchecked)";
    }
  }
  if (!iterator) {
    return "module-config \"" + std::string(module_config) + "\": no iterator after dynlib";
  }
  return {};
}

}  // namespace dnsverdict
