#pragma once
// A small LRU map bounded by a byte budget (each entry states its own cost).
// Thread-safety: none; callers hold a mutex.

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace arca::net {

template <class V>
class LruMap {
 public:
  explicit LruMap(uint64_t budget_bytes) : budget_(budget_bytes) {}

  V* find(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  void put(const std::string& key, V value, uint64_t cost) {
    erase(key);
    order_.push_front(Node{key, std::move(value), cost});
    map_[key] = order_.begin();
    used_ += cost;
    while (used_ > budget_ && order_.size() > 1) {
      auto& last = order_.back();
      used_ -= last.cost;
      map_.erase(last.key);
      order_.pop_back();
    }
  }

  void erase(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    used_ -= it->second->cost;
    order_.erase(it->second);
    map_.erase(it);
  }

  uint64_t used() const { return used_; }

 private:
  struct Node {
    std::string key;
    V value;
    uint64_t cost;
  };
  uint64_t budget_;
  uint64_t used_ = 0;
  std::list<Node> order_;
  std::unordered_map<std::string, typename std::list<Node>::iterator> map_;
};

}  // namespace arca::net
