//! [`Vec2`], the helpers' plain `f32` position, with conversions to glam and mint behind the
//! `glam` and `mint` features (engines pin their own glam: convert at the edge).

/// A position or direction in world units.
///
/// ```
/// use tickstream_client::Vec2;
///
/// let p = Vec2::from_grid(640, 128); // the wire's grid: 64 points per unit
/// assert_eq!(p, Vec2::new(10.0, 2.0));
/// assert_eq!(<[f32; 2]>::from(p), [10.0, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec2 {
    /// x, world units.
    pub x: f32,
    /// y, world units.
    pub y: f32,
}

impl Vec2 {
    /// `(x, y)`.
    #[must_use]
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// The distance to `other`.
    #[must_use]
    pub fn distance(self, other: Self) -> f32 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

impl From<Vec2> for [f32; 2] {
    fn from(v: Vec2) -> Self {
        [v.x, v.y]
    }
}

impl From<[f32; 2]> for Vec2 {
    fn from([x, y]: [f32; 2]) -> Self {
        Self { x, y }
    }
}

#[cfg(feature = "glam")]
impl From<Vec2> for glam::Vec2 {
    fn from(v: Vec2) -> Self {
        Self::new(v.x, v.y)
    }
}

#[cfg(feature = "glam")]
impl From<glam::Vec2> for Vec2 {
    fn from(v: glam::Vec2) -> Self {
        Self::new(v.x, v.y)
    }
}

#[cfg(feature = "mint")]
impl From<Vec2> for mint::Vector2<f32> {
    fn from(v: Vec2) -> Self {
        Self { x: v.x, y: v.y }
    }
}

#[cfg(feature = "mint")]
impl From<Vec2> for mint::Point2<f32> {
    fn from(v: Vec2) -> Self {
        Self { x: v.x, y: v.y }
    }
}

#[cfg(feature = "mint")]
impl From<mint::Vector2<f32>> for Vec2 {
    fn from(v: mint::Vector2<f32>) -> Self {
        Self::new(v.x, v.y)
    }
}

#[cfg(all(test, feature = "glam", feature = "mint"))]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_the_components() {
        let v = Vec2::new(1.5, -2.0);
        assert_eq!(glam::Vec2::from(v), glam::Vec2::new(1.5, -2.0), "glam");
        let m: mint::Vector2<f32> = v.into();
        assert_eq!((m.x, m.y), (1.5, -2.0), "mint");
        assert_eq!(Vec2::from(m), v, "and back");
    }
}
