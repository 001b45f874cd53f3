//! Evaluating a compiled condition tree on a closed bar, and the trigger (anti-spam) decision.

use super::model::{Op, Trigger, TriggerMode};
use super::validate::Expr;

/// Evaluates `e`; `value` returns a leaf's (current, previous bar) values, NaN when not ready.
/// Anything involving a NaN is false, so a warming-up indicator never fires.
pub fn eval<V>(e: &Expr<V>, value: &impl Fn(&V) -> (f64, f64)) -> bool {
    match e {
        Expr::All(children) => children.iter().all(|c| eval(c, value)),
        Expr::Any(children) => children.iter().any(|c| eval(c, value)),
        Expr::Cmp { left, op, right } => {
            let (l, lp) = value(left);
            let (r, rp) = value(right);
            match op {
                Op::Gt => l > r,
                Op::Gte => l >= r,
                Op::Lt => l < r,
                Op::Lte => l <= r,
                // A cross needs the previous bar on the other side: a plain `l > r` would fire every bar.
                Op::CrossesAbove => lp <= rp && l > r,
                Op::CrossesBelow => lp >= rp && l < r,
            }
        }
    }
}

/// Per (trader, symbol) trigger memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TriggerState {
    pub last_fired: Option<i64>,
    pub armed: bool,
}

impl Default for TriggerState {
    fn default() -> Self {
        TriggerState {
            last_fired: None,
            armed: true,
        }
    }
}

/// Decides whether a bar with open time `open_time` whose condition is `matched` fires, updating `state`.
pub fn decide(
    trigger: &Trigger,
    state: &mut TriggerState,
    matched: bool,
    open_time: i64,
    bar_ms: i64,
) -> bool {
    let cooled = match (trigger.cooldown_bars, state.last_fired) {
        (Some(n), Some(last)) => (open_time - last) / bar_ms >= n as i64,
        _ => true,
    };
    let new_bar = state.last_fired != Some(open_time);
    let fire = match trigger.mode {
        TriggerMode::OncePerBar => matched && new_bar,
        TriggerMode::Cooldown => matched && new_bar && cooled,
        TriggerMode::OnChange => matched && new_bar && state.armed && cooled,
    };
    if trigger.mode == TriggerMode::OnChange {
        if !matched {
            state.armed = true;
        } else if fire {
            state.armed = false;
        }
    }
    if fire {
        state.last_fired = Some(open_time);
    }
    fire
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(op: Op) -> Expr<usize> {
        Expr::Cmp {
            left: 0,
            op,
            right: 1,
        }
    }

    #[test]
    fn crosses_need_the_previous_bar_on_the_other_side() {
        let above_both_bars = |i: &usize| if *i == 0 { (5.0, 4.0) } else { (3.0, 3.0) };
        assert!(!eval(&cmp(Op::CrossesAbove), &above_both_bars));
        assert!(eval(&cmp(Op::Gt), &above_both_bars));
        let crossing = |i: &usize| if *i == 0 { (5.0, 2.0) } else { (3.0, 3.0) };
        assert!(eval(&cmp(Op::CrossesAbove), &crossing));
        assert!(!eval(&cmp(Op::CrossesBelow), &crossing));
        let not_ready = |i: &usize| if *i == 0 { (5.0, f64::NAN) } else { (3.0, 3.0) };
        assert!(!eval(&cmp(Op::CrossesAbove), &not_ready));
    }

    #[test]
    fn groups_combine() {
        let v = |i: &usize| (*i as f64, *i as f64);
        let all = Expr::All(vec![cmp(Op::Lt), cmp(Op::Gt)]);
        let any = Expr::Any(vec![cmp(Op::Lt), cmp(Op::Gt)]);
        assert!(!eval(&all, &v));
        assert!(eval(&any, &v));
    }

    fn run(trigger: Trigger, matches: &[bool]) -> Vec<bool> {
        let mut st = TriggerState::default();
        matches
            .iter()
            .enumerate()
            .map(|(i, &m)| decide(&trigger, &mut st, m, i as i64 * 60, 60))
            .collect()
    }

    #[test]
    fn trigger_modes() {
        let seq = [true, true, false, true, true, true, true, true];
        let once = Trigger {
            mode: TriggerMode::OncePerBar,
            cooldown_bars: None,
        };
        assert_eq!(run(once, &seq), seq.to_vec());
        let edge = Trigger {
            mode: TriggerMode::OnChange,
            cooldown_bars: None,
        };
        assert_eq!(
            run(edge, &seq),
            [true, false, false, true, false, false, false, false]
        );
        let cool = Trigger {
            mode: TriggerMode::Cooldown,
            cooldown_bars: Some(3),
        };
        assert_eq!(
            run(cool, &seq),
            [true, false, false, true, false, false, true, false]
        );
    }

    #[test]
    fn a_bar_never_fires_twice() {
        let once = Trigger::default();
        let mut st = TriggerState::default();
        assert!(decide(&once, &mut st, true, 120, 60));
        assert!(!decide(&once, &mut st, true, 120, 60));
    }
}
