#include "frontend/json_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace batchwise {
namespace {

std::vector<JsonValue> Children(JsonValue v) {
  std::vector<JsonValue> out;
  for (JsonValue c : v) out.push_back(c);
  return out;
}

JsonTree MustParse(std::string_view text) {
  auto t = JsonTree::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : JsonTree();
}

TEST(JsonTreeTest, ScalarsKeepTheirKinds) {
  JsonTree t = MustParse(R"({"n":null,"t":true,"f":false,"neg":-5,"pos":7,
      "big":18446744073709551615,"x":2.5,"e":1e3,"s":"h\u00e9\"llo"})");
  JsonValue r = t.root();
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r.size(), 9u);
  EXPECT_TRUE(r.Find("n").exists());
  EXPECT_FALSE(r.Find("n").is_number());
  EXPECT_TRUE(r.Find("t").is_boolean() && r.Find("t").boolean());
  EXPECT_FALSE(r.Find("f").boolean());
  EXPECT_TRUE(r.Find("neg").is_number_integer());
  EXPECT_FALSE(r.Find("neg").is_number_unsigned());
  EXPECT_EQ(r.Find("neg").int64(), -5);
  EXPECT_TRUE(r.Find("pos").is_number_unsigned());
  EXPECT_EQ(r.Find("pos").int64(), 7);
  EXPECT_EQ(r.Find("big").uint64(), 18446744073709551615ull);
  EXPECT_FALSE(r.Find("x").is_number_integer());
  EXPECT_DOUBLE_EQ(r.Find("x").number(), 2.5);
  EXPECT_DOUBLE_EQ(r.Find("e").number(), 1000);
  EXPECT_DOUBLE_EQ(r.Find("neg").number(), -5);
  EXPECT_EQ(r.Find("s").string(), "h\xc3\xa9\"llo");
  EXPECT_FALSE(r.Find("missing").exists());
  EXPECT_FALSE(r.Find("missing").is_string());
  EXPECT_FALSE(r.Find("s").Find("x").exists());  // Find on a non-object
}

TEST(JsonTreeTest, ChildrenInOrderPastNestedDescendants) {
  JsonTree t = MustParse(R"([[1,[2,3]],{"a":[4]},5,[]])");
  JsonValue r = t.root();
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 4u);
  std::vector<std::string> dumps;
  for (JsonValue v : r) dumps.push_back(v.Dump());
  EXPECT_EQ(dumps, (std::vector<std::string>{"[1,[2,3]]", R"({"a":[4]})", "5", "[]"}));
  const std::vector<JsonValue> c = Children(r);
  EXPECT_EQ(c[2].uint64(), 5u);
  EXPECT_EQ(Children(c[1].Find("a")).at(0).uint64(), 4u);
  EXPECT_EQ(c[3].size(), 0u);
  EXPECT_FALSE(c[3].begin() != c[3].end());
  EXPECT_FALSE(c[2].begin() != c[2].end());  // a scalar has no children
}

TEST(JsonTreeTest, DuplicateKeysFindTheLastAsTheDomDid) {
  JsonTree t = MustParse(R"({"k":1,"other":{"k":3},"k":2})");
  EXPECT_EQ(t.root().Find("k").uint64(), 2u);
  EXPECT_EQ(t.root().size(), 3u);
}

TEST(JsonTreeTest, MalformedTextSaysWhere) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{} x", "nul", "\"\\x\""}) {
    auto t = JsonTree::Parse(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message().rfind("malformed JSON", 0), 0u) << t.status();
  }
}

TEST(JsonTreeTest, DumpIsBoundedInLengthAndDepth) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  JsonTree t = MustParse(deep);  // the parser and the tree: no recursion
  const std::string d = t.root().Dump();
  EXPECT_EQ(d, std::string(16, '[') + "[...]" + std::string(16, ']'));
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += std::to_string(i) + ",";
  wide.back() = ']';
  const std::string w = MustParse(wide).root().Dump(50);
  EXPECT_EQ(w.size(), 53u);
  EXPECT_EQ(w.substr(0, 8), "[0,1,2,3");
  EXPECT_EQ(w.substr(50), "...");
}

}  // namespace
}  // namespace batchwise
