namespace Tickstream
{
    /// <summary>Which movement rule the client predicts its own entity with.</summary>
    public static class MoveRules
    {
        /// <summary>
        /// The rule for a session: the game's own (<see cref="ClientOptions.Step"/>) when given;
        /// else on v4 the Welcome4's (Walk at its speed, or none: no prediction); else, before
        /// v4, the built-in games' walk at <see cref="ClientOptions.PlayerSpeed"/> or their
        /// default speeds (4 in coins, 5 elsewhere). <paramref name="speed"/> is the walk's speed
        /// (0 when unknown), which also bounds a legitimate move for interpolation.
        /// </summary>
        public static MoveStep For(Welcome w, ClientOptions o, out double speed)
        {
            speed = 0;
            if (w.IsWelcome4) speed = w.MoveRule == MoveRuleKind.Walk ? w.Speed : 0;
            else speed = o.PlayerSpeed > 0 ? o.PlayerSpeed : (w.Game == "coins" ? 4 : 5);
            if (o.Step != null) return o.Step;
            return speed > 0 ? Predictor.Walk(speed, w.WorldWidth, w.WorldHeight) : null;
        }
    }
}
