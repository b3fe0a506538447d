//! The reference scenario's bot input rule, as a pure sequence of [`Input`]s.

use std::time::Duration;

use tickstream_shared::{Input, Mulberry32};

/// How often a bot sends an input: 20 Hz.
pub const INPUT_INTERVAL: Duration = Duration::from_millis(50);

/// A bot picks a new direction every this many inputs (once a second), starting with the first.
pub const INPUTS_PER_DIRECTION: u32 = 20;

/// The eight directions a bot picks from, in the scenario's order.
pub const DIRS: [(f32, f32); 8] = [
    (1.0, 0.0),
    (1.0, 1.0),
    (0.0, 1.0),
    (-1.0, 1.0),
    (-1.0, 0.0),
    (-1.0, -1.0),
    (0.0, -1.0),
    (1.0, -1.0),
];

/// The seed of bot 0's PRNG; bot `i` uses `SEED_BASE + i`.
pub const SEED_BASE: u32 = 1000;

/// The inputs bot `i` sends, in order: `seq` counts from 1, and every
/// [`INPUTS_PER_DIRECTION`] inputs the direction is `DIRS[floor(rng() * 8)]`. Endless.
#[derive(Debug, Clone)]
pub struct InputSchedule {
    rng: Mulberry32,
    seq: u32,
    dir: (f32, f32),
}

impl InputSchedule {
    /// The schedule of bot number `index` (0-based).
    #[must_use]
    pub fn for_bot(index: u32) -> Self {
        Self {
            rng: Mulberry32::new(SEED_BASE.wrapping_add(index)),
            seq: 0,
            dir: (0.0, 0.0),
        }
    }

    /// The next input; the schedule never ends.
    pub fn next_input(&mut self) -> Input {
        if self.seq % INPUTS_PER_DIRECTION == 0 {
            self.dir = DIRS[Self::dir_index(self.rng.next_f64())];
        }
        // 2^32 inputs at 20 Hz is 6.8 years; wrapping cannot happen in a run.
        self.seq = self.seq.wrapping_add(1);
        Input {
            seq: self.seq,
            dx: self.dir.0,
            dy: self.dir.1,
            buttons: 0,
        }
    }

    /// An input of the bot's own choosing (the duel), numbered in the same sequence; the
    /// schedule's directions are not drawn.
    pub fn next_input_with(&mut self, dx: f32, dy: f32, buttons: u32) -> Input {
        self.seq = self.seq.wrapping_add(1);
        Input {
            seq: self.seq,
            dx,
            dy,
            buttons,
        }
    }

    /// The index into [`DIRS`] for one PRNG draw.
    #[must_use]
    pub fn dir_index(draw: f64) -> usize {
        // `draw` is in [0, 1), so this is 0..=7; the `min` only guards the invariant.
        ((draw * DIRS.len() as f64) as usize).min(DIRS.len() - 1)
    }
}

impl Iterator for InputSchedule {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        Some(self.next_input())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direction indices of the first picks, computed with the JavaScript reference
    /// mulberry32 (`Math.floor(rng() * 8)` with seeds 1000, 1001).
    const BOT0_PICKS: [usize; 6] = [6, 6, 5, 7, 0, 3];
    const BOT1_PICKS: [usize; 6] = [1, 2, 0, 2, 5, 7];

    fn picks(bot: u32) -> Vec<(f32, f32)> {
        InputSchedule::for_bot(bot)
            .step_by(INPUTS_PER_DIRECTION as usize)
            .take(6)
            .map(|i| (i.dx, i.dy))
            .collect()
    }

    #[test]
    fn directions_match_the_reference() {
        let want: Vec<_> = BOT0_PICKS.iter().map(|&i| DIRS[i]).collect();
        assert_eq!(picks(0), want, "bot 0's first six directions");
        let want: Vec<_> = BOT1_PICKS.iter().map(|&i| DIRS[i]).collect();
        assert_eq!(picks(1), want, "bot 1's first six directions");
    }

    #[test]
    fn seq_counts_from_one_and_direction_holds_for_twenty_inputs() {
        let inputs: Vec<Input> = InputSchedule::for_bot(0).take(41).collect();
        let seqs: Vec<u32> = inputs.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (1..=41).collect::<Vec<_>>(), "seq 1, 2, 3, …");
        assert!(
            inputs[..20].iter().all(|i| (i.dx, i.dy) == DIRS[6]),
            "inputs 1..=20 share the first direction"
        );
        assert_eq!(
            (inputs[20].dx, inputs[20].dy),
            DIRS[6],
            "input 21 starts the second pick"
        );
        assert_eq!(
            (inputs[40].dx, inputs[40].dy),
            DIRS[5],
            "input 41 starts the third pick"
        );
        assert!(inputs.iter().all(|i| i.buttons == 0), "no buttons");
    }

    #[test]
    fn dir_index_covers_the_unit_interval() {
        assert_eq!(InputSchedule::dir_index(0.0), 0, "lowest draw");
        assert_eq!(InputSchedule::dir_index(0.124_999), 0, "just under 1/8");
        assert_eq!(InputSchedule::dir_index(0.125), 1, "exactly 1/8");
        assert_eq!(InputSchedule::dir_index(0.999_999_9), 7, "highest draw");
    }
}
