#include "module_chain.h"

#include <gtest/gtest.h>

namespace dnsverdict {
namespace {

TEST(ModuleChain, SupportedChains) {
  for (const char* chain : {"dynlib iterator", "dynlib validator iterator",
                            "dynlib dns64 iterator", "dynlib dns64 validator iterator",
                            "  dynlib   validator\titerator "}) {
    EXPECT_EQ(check_module_chain(chain, 0), "") << chain;
  }
}

TEST(ModuleChain, DynlibMustComeFirst) {
  std::string error = check_module_chain("dns64 dynlib validator iterator", 1);
  EXPECT_NE(error.find("dynlib must come first"), std::string::npos) << error;
  EXPECT_NE(check_module_chain("validator dynlib iterator", 1), "");
}

TEST(ModuleChain, ModulesWithCachesOfTheirOwnAreNamed) {
  for (const char* module : {"subnetcache", "cachedb", "respip", "python", "ipsecmod"}) {
    std::string chain = std::string("dynlib ") + module + " validator iterator";
    std::string error = check_module_chain(chain, 0);
    EXPECT_NE(error.find(std::string("module ") + module + " is not supported"),
              std::string::npos)
        << error;
  }
}

TEST(ModuleChain, NeedsAnIterator) {
  EXPECT_NE(check_module_chain("dynlib validator", 0).find("no iterator"), std::string::npos);
  EXPECT_NE(check_module_chain("", 0), "");
}

}  // namespace
}  // namespace dnsverdict
