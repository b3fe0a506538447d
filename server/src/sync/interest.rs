//! Which entities one client can see: everything, or what lies within a radius of its own
//! entity, found through a uniform grid rebuilt every tick.
//!
//! Distances are measured on the wire grid (1/64 unit) with exact integer arithmetic, so a
//! client can check its view with the same arithmetic on the positions it receives.

use tickstream_shared::EntityState;
use tickstream_shared::quant::SCALE;

/// The most cells along one side of the grid.
const MAX_SIDE: u32 = 1024;

/// Cells per view radius along each axis.
const CELLS_PER_RADIUS: u32 = 4;

/// The view radius in grid points, squared.
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

/// `⌊√n⌋`: the floating-point root (within one of it for every `u64`), corrected exactly.
/// About a quarter of the instructions of `u64::isqrt`, which a query calls once per row of
/// cells.
#[inline]
fn isqrt(n: u64) -> u64 {
    let n128 = u128::from(n);
    let mut r = (n as f64).sqrt() as u64;
    while u128::from(r) * u128::from(r) > n128 {
        r -= 1;
    }
    while u128::from(r + 1) * u128::from(r + 1) <= n128 {
        r += 1;
    }
    r
}

/// A uniform grid over one tick's entities: square cells a quarter of the view radius wide, so
/// that the cells a view's circle touches, row by row, cover little more than the circle (in
/// the reference scenario B, 80 candidates for 61 entities in view, where 3 × 3 cells as wide
/// as the radius held 159). Built in O(entities) by counting sort; each cell lists its
/// entities in ascending id order.
#[derive(Debug, Default)]
pub struct Grid {
    /// Cell side in grid points.
    cell: u32,
    cols: u32,
    rows: u32,
    /// `items[starts[c]..starts[c + 1]]` are the indices (into the snapshot's entities) in
    /// cell `c`.
    starts: Vec<u32>,
    items: Vec<u32>,
    /// `pos[k]` is the position of entity `items[k]`: a query reads the candidates of a row
    /// of cells as one run of 8-byte pairs instead of an entity's cache line each.
    pos: Vec<[u32; 2]>,
    /// The radius in grid points, rounded up, and squared.
    radius: u32,
    radius_sq: u64,
}

impl Grid {
    /// An empty grid for views of `radius` world units.
    #[must_use]
    pub fn new(radius: f64) -> Self {
        let radius_q = (radius * SCALE).round().max(1.0) as u32;
        Self {
            cell: radius_q,
            radius: radius_q,
            radius_sq: radius_sq_grid(radius),
            ..Self::default()
        }
    }

    /// The view radius squared, in grid points.
    #[must_use]
    pub fn radius_sq(&self) -> u64 {
        self.radius_sq
    }

    fn cell_of(&self, x: u32, y: u32) -> usize {
        let cx = (x / self.cell).min(self.cols - 1);
        let cy = (y / self.cell).min(self.rows - 1);
        (cy * self.cols + cx) as usize
    }

    /// Indexes `entities` (sorted by id). Each tick's frame builds a new grid (it is shared by
    /// every client of the tick); calling this again on one grid reuses its allocations.
    pub fn rebuild(&mut self, entities: &[EntityState]) {
        let (max_x, max_y) = entities
            .iter()
            .fold((0, 0), |(mx, my), e| (mx.max(e.x), my.max(e.y)));
        // Wider cells when the entities spread far keep the grid at most MAX_SIDE × MAX_SIDE,
        // whatever a game's radius and positions (a tiny radius over a big world would
        // otherwise size a grid of gigabytes).
        self.cell = (self.radius / CELLS_PER_RADIUS)
            .max(1)
            .max(max_x.max(max_y) / MAX_SIDE + 1);
        self.cols = max_x / self.cell + 1;
        self.rows = max_y / self.cell + 1;
        let cells = (self.cols * self.rows) as usize;
        self.starts.clear();
        self.starts.resize(cells + 1, 0);
        for e in entities {
            let c = self.cell_of(e.x, e.y);
            self.starts[c + 1] += 1;
        }
        for c in 0..cells {
            self.starts[c + 1] += self.starts[c];
        }
        self.items.clear();
        self.items.resize(entities.len(), 0);
        self.pos.clear();
        self.pos.resize(entities.len(), [0; 2]);
        // `fill[c]` is where the next entity of cell `c` goes; walking entities in id order
        // keeps every cell's list ascending.
        let mut fill: Vec<u32> = self.starts[..cells].to_vec();
        for (i, e) in entities.iter().enumerate() {
            let c = self.cell_of(e.x, e.y);
            self.items[fill[c] as usize] = i as u32;
            self.pos[fill[c] as usize] = [e.x, e.y];
            fill[c] += 1;
        }
    }

    /// Sets `found` to the indices, ascending (so in id order), of the entities of `entities`
    /// (the slice the grid was built from) within the radius of `center`. `marks` is scratch
    /// kept by the caller between queries (all zero between calls; grown here as needed).
    ///
    /// The cells of a view hold ascending runs, not one: instead of sorting what was found
    /// (about 3,500 instructions for a view of 70, most of a query's cost), each hit sets its
    /// bit in `marks`, and the words between the lowest and highest hit are read back in
    /// order and cleared.
    pub fn query(
        &self,
        entities: &[EntityState],
        center: &EntityState,
        found: &mut Vec<u32>,
        marks: &mut Vec<u64>,
    ) {
        found.clear();
        if self.cols == 0 {
            return;
        }
        let words = entities.len().div_ceil(64);
        if marks.len() < words {
            marks.resize(words, 0);
        }
        let (x, y) = (center.x, center.y);
        let y0 = y.saturating_sub(self.radius);
        let y1 = y.saturating_add(self.radius);
        let (cy0, cy1) = (y0 / self.cell, (y1 / self.cell).min(self.rows - 1));
        let (mut lo, mut hi) = (usize::MAX, 0);
        for cy in cy0..=cy1 {
            // The row's nearest point to the centre bounds how far in x a hit can lie: only
            // the cells under the circle's chord there are read. `dx² ≤ r² - dy²` with an
            // integer `dx` is `|dx| ≤ ⌊√(r² - dy²)⌋`, so the range is exact, not a guess.
            let top = cy * self.cell;
            let bottom = top.saturating_add(self.cell - 1);
            let dy = u64::from(top.saturating_sub(y).max(y.saturating_sub(bottom)));
            let Some(room) = self.radius_sq.checked_sub(dy * dy) else {
                continue;
            };
            let half = u32::try_from(isqrt(room)).unwrap_or(u32::MAX);
            let cx0 = x.saturating_sub(half) / self.cell;
            let cx1 = (x.saturating_add(half) / self.cell).min(self.cols - 1);
            let row = cy * self.cols;
            let (a, b) = (
                self.starts[(row + cx0) as usize] as usize,
                self.starts[(row + cx1) as usize + 1] as usize,
            );
            // Cells of one row are contiguous in `items`. No branch on the test (about a
            // third of the candidates are hits, irregularly): every candidate ORs its bit,
            // 0 or 1, and widens the range of words to read back, which only costs reading
            // a few more (zero) words.
            for (&i, &[ex, ey]) in self.items[a..b].iter().zip(&self.pos[a..b]) {
                let (dx, dy) = (u64::from(x.abs_diff(ex)), u64::from(y.abs_diff(ey)));
                let hit = dx * dx + dy * dy <= self.radius_sq;
                let w = i as usize / 64;
                marks[w] |= u64::from(hit) << (i % 64);
                lo = lo.min(w);
                hi = hi.max(w);
            }
        }
        if lo > hi {
            return;
        }
        for (w, word) in marks[lo..=hi].iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                found.push(((lo + w) * 64) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::{EntityId, Mulberry32};

    fn e(id: u32, x: u32, y: u32) -> EntityState {
        EntityState::new(EntityId(id), 1, x, y)
    }

    #[test]
    fn isqrt_is_the_floor_of_the_root() {
        let mut rng = Mulberry32::new(3);
        let edges = [
            0,
            1,
            2,
            3,
            4,
            99,
            100,
            101,
            u64::MAX,
            u64::MAX - 1,
            (1 << 32) - 1,
        ];
        let squares = (0..64u32).flat_map(|b| {
            let r = (1u64 << b) / 2 + u64::from(b);
            let r = r.min((1 << 32) - 1);
            [r * r, (r * r).saturating_sub(1), r * r + 1]
        });
        let random = (0..10_000).map(|_| {
            (u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32())) >> (rng.next_u32() % 64)
        });
        for n in edges.into_iter().chain(squares).chain(random) {
            assert_eq!(isqrt(n), n.isqrt(), "isqrt({n})");
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

    #[test]
    fn a_tiny_radius_over_a_wide_spread_stays_small_and_exact() {
        let entities: Vec<EntityState> = (0..200u32)
            .map(|i| e(i, i.wrapping_mul(21_474_836), u32::MAX - i * 7))
            .collect();
        let mut grid = Grid::new(1.0 / 64.0);
        grid.rebuild(&entities);
        assert!(
            grid.cols <= MAX_SIDE + 1 && grid.rows <= MAX_SIDE + 1,
            "{} × {} cells",
            grid.cols,
            grid.rows
        );
        let (mut found, mut marks) = (Vec::new(), Vec::new());
        for center in &entities {
            grid.query(&entities, center, &mut found, &mut marks);
            let expected: Vec<u32> = (0..entities.len() as u32)
                .filter(|&i| in_view(center, &entities[i as usize], grid.radius_sq()))
                .collect();
            assert_eq!(found, expected, "view around {center:?}");
        }
    }

    #[test]
    fn grid_queries_equal_brute_force() {
        let mut rng = Mulberry32::new(7);
        let entities: Vec<EntityState> = (0..3000)
            .map(|i| {
                // Cluster some on cell borders and on the arena's edges.
                let pick = |rng: &mut Mulberry32| match rng.next_u32() % 5 {
                    0 => 9_600 * (rng.next_u32() % 7),
                    1 => 64_000,
                    _ => rng.next_u32() % 64_001,
                };
                e(i * 2, pick(&mut rng), pick(&mut rng))
            })
            .collect();
        let mut grid = Grid::new(150.0);
        grid.rebuild(&entities);
        let (mut found, mut marks) = (Vec::new(), Vec::new());
        for center in entities.iter().step_by(7) {
            grid.query(&entities, center, &mut found, &mut marks);
            let got: Vec<EntityState> = found.iter().map(|&i| entities[i as usize]).collect();
            let expected: Vec<EntityState> = entities
                .iter()
                .filter(|x| in_view(center, x, grid.radius_sq()))
                .copied()
                .collect();
            assert_eq!(got, expected, "view around {center:?}");
        }
    }
}
