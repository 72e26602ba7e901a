//! Every node's layer-0 neighbours in two flat arrays (compressed sparse rows), the layout the graph file
//! stores them in (`index-format.md`, "Graph files"): reading a graph, extending it and writing it again
//! copies two arrays, not a list per node. [`Slots`] is the builder's form: a fixed number of slots per
//! node, so that a list can grow in place up to its cap.

/// Layer-0 lists: node `i`'s neighbours are `links[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lists {
    offsets: Vec<u64>,
    links: Vec<u32>,
}

impl Default for Lists {
    fn default() -> Self {
        Lists {
            offsets: vec![0],
            links: Vec::new(),
        }
    }
}

impl Lists {
    /// The lists `offsets` and `links` describe, or `None` when they do not describe lists (an empty
    /// `offsets`, one that does not start at 0, goes down, or ends elsewhere than at `links.len()`).
    pub fn from_parts(offsets: Vec<u64>, links: Vec<u32>) -> Option<Lists> {
        let ok = offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last() == Some(&(links.len() as u64));
        ok.then_some(Lists { offsets, links })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Node `node`'s neighbours (empty past the last node).
    #[inline]
    pub fn get(&self, node: usize) -> &[u32] {
        match (self.offsets.get(node), self.offsets.get(node + 1)) {
            (Some(&a), Some(&z)) => &self.links[a as usize..z as usize],
            _ => &[],
        }
    }

    /// Appends a node with neighbours `list`.
    pub fn push(&mut self, list: &[u32]) {
        self.links.extend_from_slice(list);
        self.offsets.push(self.links.len() as u64);
    }

    /// Number of links over all nodes.
    pub fn edges(&self) -> usize {
        self.links.len()
    }

    /// Every node's list, in node order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        self.offsets
            .windows(2)
            .map(|w| &self.links[w[0] as usize..w[1] as usize])
    }

    /// `len() + 1` offsets into [`Lists::links`], from 0.
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// Every node's list, one after the other.
    pub fn links(&self) -> &[u32] {
        &self.links
    }

    /// These lists with the links `(node, neighbour)` of `added` appended to their nodes' lists, in the
    /// order given; `added` is sorted by node on the way (stably).
    pub(crate) fn with_added(&self, added: &mut [(u32, u32)]) -> Lists {
        added.sort_by_key(|&(node, _)| node);
        let mut out = Lists {
            offsets: Vec::with_capacity(self.offsets.len()),
            links: Vec::with_capacity(self.links.len() + added.len()),
        };
        out.offsets.push(0);
        let mut extra = added.iter().peekable();
        for (node, list) in self.iter().enumerate() {
            out.links.extend_from_slice(list);
            while let Some(&(_, v)) = extra.next_if(|&&(u, _)| u as usize == node) {
                out.links.push(v);
            }
            out.offsets.push(out.links.len() as u64);
        }
        out
    }
}

/// Layer-0 lists in fixed slots, `stride` per node: the list's length, then its links; a list holds at
/// most `stride - 1` links.
pub(crate) struct Slots {
    pub data: Vec<u32>,
    pub stride: usize,
}

impl Slots {
    pub fn len(&self) -> usize {
        self.data.len() / self.stride
    }

    pub fn list(&self, node: usize) -> &[u32] {
        let base = node * self.stride;
        let len = (self.data[base] as usize).min(self.stride - 1);
        &self.data[base + 1..base + 1 + len]
    }

    /// Appends `v` to `node`'s list; false (and nothing changed) when the list is full.
    pub fn push(&mut self, node: usize, v: u32) -> bool {
        let base = node * self.stride;
        let len = self.data[base] as usize;
        if len + 1 >= self.stride {
            return false;
        }
        self.data[base + 1 + len] = v;
        self.data[base] += 1;
        true
    }

    /// Replaces link `slot` of `node`'s list with `v`.
    pub fn set(&mut self, node: usize, slot: usize, v: u32) {
        self.data[node * self.stride + 1 + slot] = v;
    }

    /// Slots for `nodes` nodes, `stride` each, holding `lists` (the first of them; longer lists are cut to
    /// `stride - 1` links).
    pub fn from_lists(lists: &Lists, nodes: usize, stride: usize) -> Slots {
        let mut data = vec![0u32; nodes * stride];
        for (slots, list) in data.chunks_exact_mut(stride).zip(lists.iter()) {
            let len = list.len().min(stride - 1);
            slots[0] = len as u32;
            slots[1..=len].copy_from_slice(&list[..len]);
        }
        Slots { data, stride }
    }

    /// The same lists, flat.
    pub fn to_lists(&self) -> Lists {
        let mut out = Lists {
            offsets: Vec::with_capacity(self.len() + 1),
            links: Vec::with_capacity(self.data.len()),
        };
        out.offsets.push(0);
        for node in 0..self.len() {
            out.links.extend_from_slice(self.list(node));
            out.offsets.push(out.links.len() as u64);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(of: &[&[u32]]) -> Lists {
        let mut l = Lists::default();
        for list in of {
            l.push(list);
        }
        l
    }

    #[test]
    fn lists_hold_what_was_pushed_and_reject_bad_parts() {
        let l = lists(&[&[1, 2], &[], &[0]]);
        assert_eq!((l.len(), l.edges()), (3, 3));
        assert_eq!(l.iter().collect::<Vec<_>>(), [&[1, 2][..], &[], &[0]]);
        assert_eq!((l.get(2), l.get(3)), (&[0][..], &[][..]));
        assert_eq!(l.offsets(), [0, 2, 2, 3]);
        let back = Lists::from_parts(l.offsets().to_vec(), l.links().to_vec());
        assert_eq!(back.as_ref(), Some(&l));
        assert!(Lists::from_parts(vec![], vec![]).is_none());
        assert!(Lists::from_parts(vec![1, 1], vec![0]).is_none());
        assert!(Lists::from_parts(vec![0, 2, 1], vec![0, 0]).is_none());
        assert!(Lists::from_parts(vec![0, 1], vec![0, 0]).is_none());
        assert!(Lists::from_parts(vec![0], vec![]).is_some_and(|l| l.is_empty()));
    }

    #[test]
    fn with_added_appends_to_each_node_in_the_order_given() {
        let l = lists(&[&[1], &[0, 2], &[]]);
        let mut added = vec![(2, 0), (0, 2), (2, 1), (0, 3)];
        let out = l.with_added(&mut added);
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            [&[1, 2, 3][..], &[0, 2], &[0, 1]]
        );
    }

    #[test]
    fn slots_grow_in_place_up_to_their_stride() {
        let mut s = Slots {
            data: vec![0; 3 * 3],
            stride: 3,
        };
        assert!(s.push(1, 7) && s.push(1, 8));
        assert!(!s.push(1, 9), "a list holds stride - 1 links");
        s.set(1, 0, 5);
        assert_eq!((s.len(), s.list(1), s.list(0)), (3, &[5, 8][..], &[][..]));
        assert_eq!(s.to_lists(), lists(&[&[], &[5, 8], &[]]));
        let back = Slots::from_lists(&lists(&[&[1], &[2, 3, 4]]), 3, 3);
        assert_eq!(back.to_lists(), lists(&[&[1], &[2, 3], &[]]));
    }
}
