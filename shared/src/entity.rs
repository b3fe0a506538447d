//! One entity as a client sees it, and the view checksum.

/// How many game-defined fields an entity carries besides its position.
pub const MAX_FIELDS: usize = 8;

/// An entity's game-defined fields (health, a rotation, a team, a state…), already quantized
/// to integers by the game; the game's [`crate::FieldSpec`]s in the welcome say what each one
/// means and how to scale it. A field a game does not use stays 0 and costs nothing on the wire.
pub type Fields = [i32; MAX_FIELDS];

/// An entity's replicated state: what a spawn carries in full and changes update per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityState {
    /// The entity's id, unique in its room for the room's lifetime.
    pub id: crate::EntityId,
    /// Game-defined (the welcome names each kind). Never changes while the entity lives.
    pub kind: u8,
    /// x in grid points (see [`crate::quant`]).
    pub x: u32,
    /// y in grid points (see [`crate::quant`]).
    pub y: u32,
    /// Game-defined fields; unused ones are 0.
    pub fields: Fields,
}

impl EntityState {
    /// An entity with every game field at 0.
    #[must_use]
    pub const fn new(id: crate::EntityId, kind: u8, x: u32, y: u32) -> Self {
        Self {
            id,
            kind,
            x,
            y,
            fields: [0; MAX_FIELDS],
        }
    }

    /// The same entity with field `i` set to `v` (builder style, for games and tests).
    #[must_use]
    pub const fn with_field(mut self, i: usize, v: i32) -> Self {
        self.fields[i] = v;
        self
    }

    /// This entity's contribution to a view checksum.
    ///
    /// murmur3's 32-bit finalizer over the fields, so that a client in any language can compute
    /// it with 32-bit integer arithmetic (`Math.imul` in JavaScript). Fields at 0 are skipped,
    /// so an entity without game fields hashes as it did before fields existed.
    #[must_use]
    pub fn hash(&self) -> u32 {
        let mut h = fmix32(self.id.0.wrapping_mul(0x9E37_79B1) ^ u32::from(self.kind));
        h = fmix32(h ^ self.x);
        h = fmix32(h.wrapping_add(self.y));
        for (i, v) in self.fields.iter().enumerate() {
            if *v != 0 {
                h = fmix32(h ^ (*v as u32).wrapping_add((i as u32 + 1).wrapping_mul(0x85EB_CA6B)));
            }
        }
        h
    }
}

/// The checksum of a view: the wrapping sum of its entities' hashes. A sum does not depend on
/// order, so the server and a client agree whatever order they hold entities in.
pub fn view_checksum<'a>(entities: impl IntoIterator<Item = &'a EntityState>) -> u32 {
    entities
        .into_iter()
        .fold(0u32, |acc, e| acc.wrapping_add(e.hash()))
}

/// murmur3's 32-bit finalizer: a cheap full-avalanche mix.
#[must_use]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntityId;

    fn e(id: u32, x: u32, y: u32) -> EntityState {
        EntityState::new(EntityId(id), 1, x, y)
    }

    #[test]
    fn hash_is_pinned() {
        // The JavaScript client checks the same value; changing it changes the protocol.
        assert_eq!(e(7, 100, 200).hash(), 0xB9AB_D0BC, "hash of a fixed entity");
    }

    #[test]
    fn checksum_ignores_order_but_not_content() {
        let a = [e(1, 2, 3), e(4, 5, 6)];
        let b = [e(4, 5, 6), e(1, 2, 3)];
        assert_eq!(
            view_checksum(&a),
            view_checksum(&b),
            "order does not matter"
        );
        let c = [e(1, 2, 3), e(4, 5, 7)];
        assert_ne!(
            view_checksum(&a),
            view_checksum(&c),
            "a moved coordinate changes it"
        );
        let d = [e(1, 3, 2), e(4, 5, 6)];
        assert_ne!(
            view_checksum(&a),
            view_checksum(&d),
            "swapped x and y change it"
        );
    }

    #[test]
    fn fields_count_by_position_and_value() {
        let base = e(7, 100, 200);
        assert_eq!(
            base.with_field(0, 0).hash(),
            base.hash(),
            "a zero field hashes as no field"
        );
        let pinned = base.with_field(0, 5).with_field(3, -1);
        // The JavaScript client checks the same value; changing it changes the protocol.
        assert_eq!(pinned.hash(), 0x6CFB_17A4, "hash of fixed fields");
        assert_ne!(
            base.with_field(0, 5).hash(),
            base.with_field(1, 5).hash(),
            "the same value in another field differs"
        );
    }
}
