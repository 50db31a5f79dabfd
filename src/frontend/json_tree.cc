#include "frontend/json_tree.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace batchwise {

using Kind = JsonValue::Kind;

// nlohmann's SAX events appended as nodes; `open_` holds the containers not yet closed.
class JsonTree::Builder {
 public:
  using json = nlohmann::json;
  explicit Builder(JsonTree& tree) : tree_(tree) {}

  bool null() { return Add(Kind::kNull) != nullptr; }
  bool boolean(bool v) {
    Node* n = Add(Kind::kBool);
    if (n != nullptr) n->boolean = v;
    return n != nullptr;
  }
  bool number_integer(json::number_integer_t v) {
    Node* n = Add(v < 0 ? Kind::kInt : Kind::kUint);
    if (n != nullptr) n->value.i = v;
    return n != nullptr;
  }
  bool number_unsigned(json::number_unsigned_t v) {
    Node* n = Add(Kind::kUint);
    if (n != nullptr) n->value.u = v;
    return n != nullptr;
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    Node* n = Add(Kind::kFloat);
    if (n != nullptr) n->value.d = v;
    return n != nullptr;
  }
  bool string(json::string_t& v) { return AddText(Kind::kString, v); }
  bool binary(json::binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(size_t) { return Open(Kind::kObject); }
  bool start_array(size_t) { return Open(Kind::kArray); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(json::string_t& k) { return AddText(Kind::kKey, k); }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& e) {
    return Fail(std::string("malformed JSON: ") + e.what());
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  // A string or key node; its text goes to the shared buffer. Offsets are 32-bit: a JSON text
  // of 4 GiB or more is refused, never truncated.
  bool AddText(Kind kind, const std::string& text) {
    if (tree_.text_.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
      return Fail("the JSON text is too large");
    }
    Node* n = Add(kind);
    if (n == nullptr) return false;
    n->value.s = {static_cast<uint32_t>(tree_.text_.size()), static_cast<uint32_t>(text.size())};
    tree_.text_ += text;
    return true;
  }

  Node* Add(Kind kind) {
    if (tree_.nodes_.size() >= std::numeric_limits<uint32_t>::max()) {
      Fail("the JSON text has too many values");
      return nullptr;
    }
    // A container's children: its array elements, or its members' values (not their keys).
    if (kind != Kind::kKey && !open_.empty()) ++tree_.nodes_[open_.back()].value.u;
    Node& n = tree_.nodes_.emplace_back();
    n.kind = kind;
    n.end = static_cast<uint32_t>(tree_.nodes_.size());
    return &n;
  }

  bool Open(Kind kind) {
    if (Add(kind) == nullptr) return false;
    open_.push_back(static_cast<uint32_t>(tree_.nodes_.size() - 1));
    return true;
  }

  bool Close() {
    tree_.nodes_[open_.back()].end = static_cast<uint32_t>(tree_.nodes_.size());
    open_.pop_back();
    return true;
  }

  JsonTree& tree_;
  std::vector<uint32_t> open_;
  std::string error_;
};

Result<JsonTree> JsonTree::Parse(std::string_view text) {
  JsonTree tree;
  tree.nodes_.reserve(32);
  Builder builder(tree);
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder);
  if (!ok || tree.nodes_.empty()) {
    return InvalidArgument(builder.error().empty() ? "malformed JSON" : builder.error());
  }
  return tree;
}

// --- JsonValue ---

Kind JsonValue::kind() const { return tree_->nodes_[index_].kind; }

bool JsonValue::boolean() const { return tree_->nodes_[index_].boolean; }

int64_t JsonValue::int64() const {
  const auto& v = tree_->nodes_[index_].value;
  return kind() == Kind::kInt ? v.i : static_cast<int64_t>(v.u);
}

uint64_t JsonValue::uint64() const { return tree_->nodes_[index_].value.u; }

double JsonValue::number() const {
  const auto& v = tree_->nodes_[index_].value;
  switch (kind()) {
    case Kind::kInt:
      return static_cast<double>(v.i);
    case Kind::kUint:
      return static_cast<double>(v.u);
    default:
      return v.d;
  }
}

std::string_view JsonValue::string() const {
  const auto& s = tree_->nodes_[index_].value.s;
  return std::string_view(tree_->text_).substr(s.off, s.len);
}

size_t JsonValue::size() const {
  return is_object() || is_array() ? tree_->nodes_[index_].value.u : 0;
}

JsonValue::Iterator::Iterator(const JsonTree* tree, uint32_t index, uint32_t end)
    : tree_(tree), index_(index), end_(end) {
  if (index_ != end_ && tree_->nodes_[index_].kind == Kind::kKey) ++index_;  // to its value
}

JsonValue JsonValue::Iterator::operator*() const { return {tree_, index_}; }

JsonValue::Iterator& JsonValue::Iterator::operator++() {
  index_ = tree_->nodes_[index_].end;  // past this child's descendants: the next sibling
  if (index_ != end_ && tree_->nodes_[index_].kind == Kind::kKey) ++index_;
  return *this;
}

JsonValue::Iterator JsonValue::begin() const {
  if (!is_object() && !is_array()) return end();
  return {tree_, index_ + 1, tree_->nodes_[index_].end};
}

JsonValue::Iterator JsonValue::end() const {
  const uint32_t e = exists() ? tree_->nodes_[index_].end : 0;
  return {tree_, e, e};
}

std::string_view JsonValue::KeyOf(uint32_t member) const {
  const auto& k = tree_->nodes_[member - 1].value.s;  // the key node before the value
  return std::string_view(tree_->text_).substr(k.off, k.len);
}

JsonValue JsonValue::Find(std::string_view key) const {
  if (!is_object()) return {};
  JsonValue found;
  for (JsonValue member : *this) {
    if (KeyOf(member.index_) == key) found = member;
  }
  return found;
}

std::string JsonValue::Dump(size_t max_chars) const {
  std::string out;
  DumpTo(out, max_chars, 0);
  if (out.size() > max_chars) out.replace(max_chars, std::string::npos, "...");
  return out;
}

void JsonValue::DumpTo(std::string& out, size_t max_chars, int depth) const {
  if (out.size() > max_chars) return;
  const auto& n = tree_->nodes_[index_];
  char buf[32];
  switch (n.kind) {
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += n.boolean ? "true" : "false";
      return;
    case Kind::kInt:
      out.append(buf, std::to_chars(buf, buf + sizeof(buf), n.value.i).ptr);
      return;
    case Kind::kUint:
      out.append(buf, std::to_chars(buf, buf + sizeof(buf), n.value.u).ptr);
      return;
    case Kind::kFloat:
      if (!std::isfinite(n.value.d)) {
        out += "null";  // as nlohmann dumps it
        return;
      }
      out.append(buf, std::to_chars(buf, buf + sizeof(buf), n.value.d).ptr);
      return;
    case Kind::kKey:  // never a value
      return;
    case Kind::kString:
      out += nlohmann::json(std::string(string()))
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    case Kind::kObject:
    case Kind::kArray: {
      const bool object = n.kind == Kind::kObject;
      if (depth >= 16) {
        out += object ? "{...}" : "[...]";
        return;
      }
      out += object ? '{' : '[';
      bool first = true;
      for (JsonValue child : *this) {
        if (out.size() > max_chars) return;
        if (!first) out += ',';
        first = false;
        if (object) {
          out += nlohmann::json(std::string(KeyOf(child.index_)))
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          out += ':';
        }
        child.DumpTo(out, max_chars, depth + 1);
      }
      out += object ? '}' : ']';
      return;
    }
  }
}

}  // namespace batchwise
