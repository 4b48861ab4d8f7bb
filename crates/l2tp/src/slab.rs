//! A slab of values addressed by (index, generation): O(1) insert, lookup and removal, and a
//! stale handle (its slot reused) never finds the new occupant.

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Values addressed by `(index, generation)`.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    pub(crate) fn insert(&mut self, value: T) -> (u32, u32) {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = Some(value);
            (i, slot.generation)
        } else {
            self.slots.push(Slot {
                generation: 0,
                value: Some(value),
            });
            ((self.slots.len() - 1) as u32, 0)
        }
    }

    pub(crate) fn get(&self, index: u32, generation: u32) -> Option<&T> {
        let s = self.slots.get(index as usize)?;
        (s.generation == generation).then_some(())?;
        s.value.as_ref()
    }

    pub(crate) fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let s = self.slots.get_mut(index as usize)?;
        (s.generation == generation).then_some(())?;
        s.value.as_mut()
    }

    /// By index alone (for internal references that are known to be live).
    pub(crate) fn at(&self, index: u32) -> Option<&T> {
        self.slots.get(index as usize)?.value.as_ref()
    }

    pub(crate) fn at_mut(&mut self, index: u32) -> Option<&mut T> {
        self.slots.get_mut(index as usize)?.value.as_mut()
    }

    pub(crate) fn generation(&self, index: u32) -> u32 {
        self.slots.get(index as usize).map_or(0, |s| s.generation)
    }

    pub(crate) fn remove(&mut self, index: u32) -> Option<T> {
        let s = self.slots.get_mut(index as usize)?;
        let v = s.value.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(v)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, _)| i as u32)
    }
}
