#include "tensor/io/unpickler.h"

#include <cstdio>
#include <cstring>
#include <set>

namespace vps {

using ojson = nlohmann::ordered_json;

const char* py_kind_name(PyKind k) {
  switch (k) {
    case PyKind::None: return "None";
    case PyKind::Bool: return "bool";
    case PyKind::Int: return "int";
    case PyKind::BigInt: return "int (big)";
    case PyKind::Float: return "float";
    case PyKind::Str: return "str";
    case PyKind::Bytes: return "bytes";
    case PyKind::List: return "list";
    case PyKind::Tuple: return "tuple";
    case PyKind::Dict: return "dict";
    case PyKind::Global: return "global";
    case PyKind::Storage: return "storage";
    case PyKind::Tensor: return "tensor";
  }
  return "?";
}

bool Unpickler::global_allowed(const std::string& module, const std::string& name) {
  static const std::set<std::string> allowed = {
      "collections.OrderedDict", "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
      "_codecs.encode",  // how protocol 2 pickles bytes: _codecs.encode(str, 'latin1')
      "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2", "torch.Size",
      "torch.Tensor", "torch._tensor.Tensor", "torch.nn.parameter.Parameter",
      "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
      "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage",
      "torch.BoolStorage", "torch.UntypedStorage", "torch.storage.UntypedStorage", "torch.storage._UntypedStorage",
      "torch.storage.TypedStorage", "torch.float32", "torch.float", "torch.float64", "torch.double",
      "torch.float16", "torch.half", "torch.bfloat16", "torch.int64", "torch.long", "torch.int32", "torch.int",
      "torch.int16", "torch.short", "torch.int8", "torch.uint8", "torch.bool"};
  return allowed.count(module + "." + name) > 0;
}

ObjId Unpickler::make(PyKind k, int64_t i, std::string s) {
  VPS_CHECK(arena_.size() < (1u << 31), what_, ": pickle has too many objects");
  arena_.push_back(PyObj{k, i, 0.0, std::move(s), {}});
  return ObjId(arena_.size() - 1);
}

void Unpickler::fail(const std::string& msg) const {
  char op[32];
  std::snprintf(op, sizeof op, "0x%02x%s%c%s", op_, op_ >= 32 && op_ < 127 ? " '" : "",
                op_ >= 32 && op_ < 127 ? char(op_) : ' ', op_ >= 32 && op_ < 127 ? "'" : "");
  VPS_FAIL(what_, ": pickle opcode ", op, " at offset ", op_pos_, ": ", msg);
}

ObjId Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
  ObjId v = stack_.back();
  stack_.pop_back();
  return v;
}

ObjId Unpickler::top() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
  return stack_.back();
}

size_t Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK on the stack");
  size_t m = marks_.back();
  marks_.pop_back();
  return m;
}

const std::vector<ObjId>& Unpickler::tuple_items(ObjId id, const std::string& context) const {
  VPS_CHECK(obj(id).kind == PyKind::Tuple || obj(id).kind == PyKind::List, what_, ": ", context,
            ": expected a tuple, got ", py_kind_name(obj(id).kind));
  return obj(id).items;
}

int64_t Unpickler::as_int(ObjId id, const std::string& context) const {
  VPS_CHECK(obj(id).kind == PyKind::Int || obj(id).kind == PyKind::Bool, what_, ": ", context,
            ": expected an int, got ", py_kind_name(obj(id).kind));
  return obj(id).i;
}

const std::string& Unpickler::as_str(ObjId id, const std::string& context) const {
  VPS_CHECK(obj(id).kind == PyKind::Str, what_, ": ", context, ": expected a str, got ", py_kind_name(obj(id).kind));
  return obj(id).s;
}

bool Unpickler::dict_get(ObjId dict, const std::string& key, ObjId* out) const {
  const PyObj& d = obj(dict);
  if (d.kind != PyKind::Dict) return false;
  bool found = false;
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    const PyObj& k = obj(d.items[i]);
    if (k.kind == PyKind::Str && k.s == key) *out = d.items[i + 1], found = true;
  }
  return found;
}

namespace {
// UTF-8 -> Latin-1 bytes, as _codecs.encode(s, 'latin1') does for protocol-2 bytes objects.
bool utf8_to_latin1(const std::string& s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x80) {
      *out += char(c);
    } else if ((c & 0xe0) == 0xc0 && i + 1 < s.size() && c <= 0xc3) {
      *out += char(((c & 0x1f) << 6) | (s[++i] & 0x3f));
    } else {
      return false;
    }
  }
  return true;
}
}  // namespace

ObjId Unpickler::call(ObjId callable, ObjId args, const char* opcode) {
  if (obj(callable).kind != PyKind::Global) fail(std::string(opcode) + " on a " + py_kind_name(obj(callable).kind));
  if (obj(args).kind != PyKind::Tuple) fail(std::string(opcode) + " arguments are not a tuple");
  const std::string name = obj(callable).s;
  const std::vector<ObjId> a = obj(args).items;
  bool is_set = name == "builtins.set" || name == "builtins.frozenset" || name == "__builtin__.set" ||
                name == "__builtin__.frozenset";
  if (name == "collections.OrderedDict" || name == "torch.Size" || is_set) {
    bool dict = name == "collections.OrderedDict";
    ObjId r = make(dict ? PyKind::Dict : (name == "torch.Size" ? PyKind::Tuple : PyKind::List));
    if (a.empty()) return r;
    if (a.size() != 1 || (obj(a[0]).kind != PyKind::List && obj(a[0]).kind != PyKind::Tuple))
      fail(name + " takes at most one list or tuple argument");
    for (ObjId item : std::vector<ObjId>(obj(a[0]).items)) {
      if (!dict) {
        obj(r).items.push_back(item);
      } else {
        if (obj(item).items.size() != 2) fail("collections.OrderedDict items must be pairs");
        obj(r).items.push_back(obj(item).items[0]);
        obj(r).items.push_back(obj(item).items[1]);
      }
    }
    return r;
  }
  if (name == "_codecs.encode") {
    std::string bytes;
    if (a.size() != 2 || obj(a[0]).kind != PyKind::Str || obj(a[1]).kind != PyKind::Str ||
        (obj(a[1]).s != "latin1" && obj(a[1]).s != "latin-1") || !utf8_to_latin1(obj(a[0]).s, &bytes))
      fail("_codecs.encode is only allowed as encode(str, 'latin1')");
    return make(PyKind::Bytes, 0, std::move(bytes));
  }
  if (name.rfind("torch.", 0) == 0 && hooks_.call_torch) return hooks_.call_torch(*this, name, args);
  fail("global '" + name + "' cannot be called here");
}

ObjId Unpickler::load(ByteReader& r) {
  stack_.clear();
  marks_.clear();
  memo_.clear();
  auto int_le = [&](const uint8_t* p, size_t n) -> ObjId {  // LONG1/LONG4 payload: little-endian two's complement
    while (n > 8 && ((p[n - 1] == 0 && !(p[n - 2] & 0x80)) || (p[n - 1] == 0xff && (p[n - 2] & 0x80)))) --n;
    if (n > 8) return make(PyKind::BigInt, 0, std::string(reinterpret_cast<const char*>(p), n));
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(p[k]) << (8 * k);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);
    return make(PyKind::Int, int64_t(v));
  };
  auto str_of = [&](PyKind k, uint64_t n) -> ObjId {
    if (n > r.remaining()) fail("string length " + std::to_string(n) + " runs past the end of the data");
    const uint8_t* p = r.take(size_t(n));
    return make(k, 0, std::string(reinterpret_cast<const char*>(p), size_t(n)));
  };
  auto line = [&]() {
    std::string s;
    for (char c; (c = char(r.u8())) != '\n';) s += c;
    return s;
  };
  auto global = [&](const std::string& module, const std::string& name) -> ObjId {
    if (!global_allowed(module, name))
      fail("refusing global '" + module + "." + name +
           "': only the torch/collections globals a state_dict needs are allowed (a pickle that calls it could "
           "run arbitrary code)");
    return make(PyKind::Global, 0, module + "." + name);
  };
  auto items_from = [&](size_t mark) {
    std::vector<ObjId> v(stack_.begin() + long(mark), stack_.end());
    stack_.resize(mark);
    return v;
  };
  auto container = [&](PyKind k) -> ObjId {
    ObjId c = top();
    if (obj(c).kind != k) fail(std::string("expected a ") + py_kind_name(k) + " on the stack, got " + py_kind_name(obj(c).kind));
    return c;
  };
  for (;;) {
    op_pos_ = r.pos();
    op_ = r.u8();
    switch (op_) {
      case 0x80: r.u8(); break;                // PROTO
      case 0x95: r.u64(); break;               // FRAME: a size hint only
      case '.': {                              // STOP
        ObjId root = pop();
        return root;
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                             // POP
      case '1': stack_.resize(pop_mark()); break;         // POP_MARK
      case '2': stack_.push_back(top()); break;           // DUP
      case 'N': stack_.push_back(make(PyKind::None)); break;
      case 0x88: stack_.push_back(make(PyKind::Bool, 1)); break;  // NEWTRUE
      case 0x89: stack_.push_back(make(PyKind::Bool, 0)); break;  // NEWFALSE
      case 'J': stack_.push_back(make(PyKind::Int, int32_t(r.u32()))); break;  // BININT
      case 'K': stack_.push_back(make(PyKind::Int, r.u8())); break;            // BININT1
      case 'M': stack_.push_back(make(PyKind::Int, r.u16())); break;           // BININT2
      case 0x8a: {                                                             // LONG1
        size_t n = r.u8();
        stack_.push_back(int_le(r.take(n), n));
        break;
      }
      case 0x8b: {  // LONG4
        uint32_t n = r.u32();
        if (n > r.remaining()) fail("LONG4 length runs past the end of the data");
        stack_.push_back(int_le(r.take(n), n));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const uint8_t* p = r.take(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
        ObjId f = make(PyKind::Float);
        std::memcpy(&obj(f).f, &u, 8);
        stack_.push_back(f);
        break;
      }
      case 'X': stack_.push_back(str_of(PyKind::Str, r.u32())); break;     // BINUNICODE
      case 0x8c: stack_.push_back(str_of(PyKind::Str, r.u8())); break;     // SHORT_BINUNICODE
      case 0x8d: stack_.push_back(str_of(PyKind::Str, r.u64())); break;    // BINUNICODE8
      case 'T': stack_.push_back(str_of(PyKind::Str, r.u32())); break;     // BINSTRING (Python 2 str)
      case 'U': stack_.push_back(str_of(PyKind::Str, r.u8())); break;      // SHORT_BINSTRING
      case 'B': stack_.push_back(str_of(PyKind::Bytes, r.u32())); break;   // BINBYTES
      case 'C': stack_.push_back(str_of(PyKind::Bytes, r.u8())); break;    // SHORT_BINBYTES
      case 0x8e: stack_.push_back(str_of(PyKind::Bytes, r.u64())); break;  // BINBYTES8
      case ')': stack_.push_back(make(PyKind::Tuple)); break;              // EMPTY_TUPLE
      case ']': stack_.push_back(make(PyKind::List)); break;               // EMPTY_LIST
      case '}': stack_.push_back(make(PyKind::Dict)); break;               // EMPTY_DICT
      case 0x8f: stack_.push_back(make(PyKind::List)); break;              // EMPTY_SET (kept as a list)
      case 't': case 'l': case 'd': case 0x91: {                          // TUPLE, LIST, DICT, FROZENSET
        std::vector<ObjId> v = items_from(pop_mark());
        if (op_ == 'd' && v.size() % 2) fail("DICT with an odd number of items");
        ObjId c = make(op_ == 't' ? PyKind::Tuple : op_ == 'd' ? PyKind::Dict : PyKind::List);
        obj(c).items = std::move(v);
        stack_.push_back(c);
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        size_t n = size_t(op_ - 0x84);
        std::vector<ObjId> v(n);
        for (size_t k = n; k-- > 0;) v[k] = pop();
        ObjId c = make(PyKind::Tuple);
        obj(c).items = std::move(v);
        stack_.push_back(c);
        break;
      }
      case 'a': {  // APPEND
        ObjId v = pop();
        obj(container(PyKind::List)).items.push_back(v);
        break;
      }
      case 'e': case 0x90: {  // APPENDS, ADDITEMS
        std::vector<ObjId> v = items_from(pop_mark());
        auto& items = obj(container(PyKind::List)).items;
        items.insert(items.end(), v.begin(), v.end());
        break;
      }
      case 's': {  // SETITEM
        ObjId v = pop(), k = pop();
        auto& items = obj(container(PyKind::Dict)).items;
        items.push_back(k);
        items.push_back(v);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<ObjId> v = items_from(pop_mark());
        if (v.size() % 2) fail("SETITEMS with an odd number of items");
        auto& items = obj(container(PyKind::Dict)).items;
        items.insert(items.end(), v.begin(), v.end());
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = line();
        std::string name = line();
        stack_.push_back(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        ObjId name = pop(), module = pop();
        if (obj(name).kind != PyKind::Str || obj(module).kind != PyKind::Str) fail("STACK_GLOBAL needs two strings");
        stack_.push_back(global(obj(module).s, obj(name).s));
        break;
      }
      case 'R': case 0x81: {  // REDUCE, NEWOBJ
        ObjId args = pop(), fn = pop();
        stack_.push_back(call(fn, args, op_ == 'R' ? "REDUCE" : "NEWOBJ"));
        break;
      }
      case 'b': {  // BUILD: only the attribute state of dicts (OrderedDict._metadata) and tensors, dropped
        pop();
        PyKind k = obj(top()).kind;
        if (k != PyKind::Dict && k != PyKind::Tensor) fail(std::string("BUILD on a ") + py_kind_name(k) + " is not supported");
        break;
      }
      case 'Q': {  // BINPERSID
        ObjId pid = pop();
        if (!hooks_.persistent_load) fail("persistent ids are not expected here");
        stack_.push_back(hooks_.persistent_load(*this, pid));
        break;
      }
      case 'q': memo_[r.u8()] = top(); break;                // BINPUT
      case 'r': memo_[r.u32()] = top(); break;               // LONG_BINPUT
      case 0x94: memo_[memo_.size()] = top(); break;         // MEMOIZE
      case 'h': case 'j': {                                  // BINGET, LONG_BINGET
        uint32_t idx = op_ == 'h' ? r.u8() : r.u32();
        auto it = memo_.find(idx);
        if (it == memo_.end()) fail("memo index " + std::to_string(idx) + " was never stored");
        stack_.push_back(it->second);
        break;
      }
      default:
        fail("unsupported opcode (not needed for a state_dict; refused)");
    }
  }
}

ojson Unpickler::to_json(ObjId id, const TensorJson& tensor_json, int depth) const {
  VPS_CHECK(depth <= 100, what_, ": metadata nested more than 100 levels deep (or cyclic)");
  const PyObj& o = obj(id);
  switch (o.kind) {
    case PyKind::None: return nullptr;
    case PyKind::Bool: return o.i != 0;
    case PyKind::Int: return o.i;
    case PyKind::Float: return o.f;
    case PyKind::Str: return o.s;
    case PyKind::BigInt: {
      std::string hex = "0x";
      static const char* d = "0123456789abcdef";
      for (size_t k = o.s.size(); k-- > 0;) hex += {d[uint8_t(o.s[k]) >> 4], d[uint8_t(o.s[k]) & 15]};
      return ojson{{"__bigint_le_twos_complement__", hex}};
    }
    case PyKind::Bytes: return ojson{{"__bytes__", o.s.size()}};
    case PyKind::Global: return ojson{{"__global__", o.s}};
    case PyKind::Storage: return ojson{{"__storage__", o.i}};
    case PyKind::Tensor: return tensor_json ? tensor_json(o.i) : ojson{{"__tensor__", o.i}};
    case PyKind::List: case PyKind::Tuple: {
      ojson a = ojson::array();
      for (ObjId c : o.items) a.push_back(to_json(c, tensor_json, depth + 1));
      return a;
    }
    case PyKind::Dict: {
      ojson m = ojson::object();
      for (size_t k = 0; k + 1 < o.items.size(); k += 2) {
        const PyObj& key = obj(o.items[k]);
        std::string ks = key.kind == PyKind::Str ? key.s : to_json(o.items[k], tensor_json, depth + 1)
                                                      .dump(-1, ' ', false, ojson::error_handler_t::replace);
        m[ks] = to_json(o.items[k + 1], tensor_json, depth + 1);
      }
      return m;
    }
  }
  return nullptr;
}

}  // namespace vps
