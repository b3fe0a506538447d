//! Which entities one client can see.

use tickstream_shared::EntityState;
use tickstream_shared::quant::SCALE;

/// The view radius in grid points, squared, for exact integer distance tests: clients can
/// check membership with the same integer arithmetic on the positions they receive.
#[must_use]
pub fn radius_sq_grid(radius: f64) -> u64 {
    let r = (radius * SCALE).round();
    (r * r) as u64
}

/// True when `e` lies within the radius (`<=`) of `center`, on the grid.
#[must_use]
pub fn in_view(center: &EntityState, e: &EntityState, radius_sq: u64) -> bool {
    let dx = u64::from(center.x.abs_diff(e.x));
    let dy = u64::from(center.y.abs_diff(e.y));
    dx * dx + dy * dy <= radius_sq
}

/// Appends to `out` the entities of `all` (sorted by id) within the radius of `center`, keeping
/// the order.
pub fn filter_view(
    all: &[EntityState],
    center: &EntityState,
    radius_sq: u64,
    out: &mut Vec<EntityState>,
) {
    out.extend(all.iter().filter(|e| in_view(center, e, radius_sq)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::EntityId;

    fn e(id: u32, x: u32, y: u32) -> EntityState {
        EntityState {
            id: EntityId(id),
            kind: 1,
            x,
            y,
        }
    }

    #[test]
    fn the_edge_is_inside() {
        let r2 = radius_sq_grid(150.0);
        let c = e(0, 64_000, 64_000);
        assert!(
            in_view(&c, &e(1, 64_000 - 9_600, 64_000), r2),
            "exactly 150 units is in view"
        );
        assert!(
            !in_view(&c, &e(1, 64_000 - 9_601, 64_000), r2),
            "1/64 more is not"
        );
        assert!(in_view(&c, &c, r2), "the centre is in view");
    }
}
