// The tree of open scopes that region strategies keep: each node knows its
// parent, its most recently opened child still open, and its siblings in a
// doubly linked list, so that opening and closing a scope are O(1) and
// closing a parent can close its open children first (contract.hpp).
//
// Node needs `Node* prev_sibling` and `Node* next_sibling`; `head` is the
// parent's child pointer, or the strategy's list of top-level scopes.
#pragma once

namespace alloclab {

template <class Node>
void link_scope(Node*& head, Node* n) noexcept {
  n->prev_sibling = nullptr;
  n->next_sibling = head;
  if (head) head->prev_sibling = n;
  head = n;
}

template <class Node>
void unlink_scope(Node*& head, Node* n) noexcept {
  if (n->prev_sibling) n->prev_sibling->next_sibling = n->next_sibling;
  else head = n->next_sibling;
  if (n->next_sibling) n->next_sibling->prev_sibling = n->prev_sibling;
}

}  // namespace alloclab
