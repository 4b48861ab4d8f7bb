//! The state transition table of RFC 1661 §4.1, as a pure function.
//!
//! One function per event (s2n-quic's `on_*` shape), each a `match` over the ten states that
//! reads like one row of the RFC table. [`transition`] dispatches to them; the exhaustive
//! snapshot test prints all 160 cells in the RFC's own `action,action/state` notation next to
//! the state names (`transitions.txt` beside this file).
//!
//! Footnotes of the table, and how this crate resolves them:
//!
//! - `[p]` (TO- in Req-Sent, Ack-Rcvd, Ack-Sent): the *passive option* (§4.2 Stopped) would wait
//!   for the peer without `tlf`. It "SHOULD NOT be used for switched circuits", and an L2TP
//!   session is one, so the option is not implemented: TO- is `tlf/3`.
//! - `[r]` (Open in Stopped, Closing, Stopping, Opened): the *restart option* (§4.3 Open) would
//!   issue Down then Up. Not done here: the cells stay as printed (`3`, `5`, `5`, `9`); a caller
//!   that wants a renegotiation calls [`down`](super::ControlProtocol::down) then
//!   [`up`](super::ControlProtocol::up) itself.
//! - `[x]` (RCA in Ack-Rcvd and Opened, RCN in Ack-Rcvd and Opened): a *crossed connection*.
//!   The cells are as printed; [`ControlProtocol`](super::ControlProtocol) only raises RCA/RCN
//!   for the first valid reply to its latest Configure-Request (§5.1: a new request gets a new
//!   Identifier once a valid reply was received), so these cells are reached only through
//!   [`transition`] itself.

use core::fmt;

/// RFC 1661 §4.2 states. The RFC numbers them 0 to 9 in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// 0: lower layer Down, no Open yet.
    Initial,
    /// 1: Open issued, lower layer still Down.
    Starting,
    /// 2: lower layer Up, no Open: Configure-Requests are answered with Terminate-Ack.
    Closed,
    /// 3: the Open counterpart of Closed; waits for the peer or a Down.
    Stopped,
    /// 4: Terminate-Request sent after a Close.
    Closing,
    /// 5: Terminate-Request sent, the link stays administratively open.
    Stopping,
    /// 6: Configure-Request sent, no Configure-Ack sent or received.
    ReqSent,
    /// 7: Configure-Request sent and acknowledged; no Configure-Ack sent yet.
    AckRcvd,
    /// 8: Configure-Request sent and a Configure-Ack sent; ours not acknowledged yet.
    AckSent,
    /// 9: Configure-Ack sent and received: the layer is up.
    Opened,
}

impl State {
    /// Every state, in RFC order (0 to 9).
    pub const ALL: [Self; 10] = [
        Self::Initial,
        Self::Starting,
        Self::Closed,
        Self::Stopped,
        Self::Closing,
        Self::Stopping,
        Self::ReqSent,
        Self::AckRcvd,
        Self::AckSent,
        Self::Opened,
    ];

    /// The RFC's number for the state (0 to 9).
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Whether the Restart timer runs in this state: the states that have TO events in the
    /// table (Closing, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent).
    pub const fn restart_timer_runs(self) -> bool {
        matches!(
            self,
            Self::Closing | Self::Stopping | Self::ReqSent | Self::AckRcvd | Self::AckSent
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// RFC 1661 §4.3 events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Up: the lower layer is ready to carry packets.
    Up,
    /// Down: the lower layer is no longer ready.
    Down,
    /// Open: administrative Open.
    Open,
    /// Close: administrative Close.
    Close,
    /// TO+: the Restart timer expired with the restart counter above zero.
    TimeoutPlus,
    /// TO-: the Restart timer expired with the restart counter at zero.
    TimeoutMinus,
    /// RCR+: an acceptable Configure-Request.
    RcrPlus,
    /// RCR-: an unacceptable Configure-Request (answered with a Nak or a Reject).
    RcrMinus,
    /// RCA: a valid Configure-Ack.
    Rca,
    /// RCN: a valid Configure-Nak or Configure-Reject.
    Rcn,
    /// RTR: a Terminate-Request.
    Rtr,
    /// RTA: a Terminate-Ack.
    Rta,
    /// RUC: a packet with an unknown code.
    Ruc,
    /// RXJ+: a Code-Reject or Protocol-Reject of something we can do without.
    RxjPlus,
    /// RXJ-: a catastrophic Code-Reject or Protocol-Reject.
    RxjMinus,
    /// RXR: an Echo-Request, Echo-Reply or Discard-Request (and other codes a protocol handles).
    Rxr,
}

impl Event {
    /// Every event, in the RFC table's order.
    pub const ALL: [Self; 16] = [
        Self::Up,
        Self::Down,
        Self::Open,
        Self::Close,
        Self::TimeoutPlus,
        Self::TimeoutMinus,
        Self::RcrPlus,
        Self::RcrMinus,
        Self::Rca,
        Self::Rcn,
        Self::Rtr,
        Self::Rta,
        Self::Ruc,
        Self::RxjPlus,
        Self::RxjMinus,
        Self::Rxr,
    ];

    /// The RFC's abbreviation (`Up`, `TO+`, `RCR-`, ...).
    pub const fn abbreviation(self) -> &'static str {
        match self {
            Self::Up => "Up",
            Self::Down => "Down",
            Self::Open => "Open",
            Self::Close => "Close",
            Self::TimeoutPlus => "TO+",
            Self::TimeoutMinus => "TO-",
            Self::RcrPlus => "RCR+",
            Self::RcrMinus => "RCR-",
            Self::Rca => "RCA",
            Self::Rcn => "RCN",
            Self::Rtr => "RTR",
            Self::Rta => "RTA",
            Self::Ruc => "RUC",
            Self::RxjPlus => "RXJ+",
            Self::RxjMinus => "RXJ-",
            Self::Rxr => "RXR",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.abbreviation())
    }
}

/// RFC 1661 §4.4 actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// tlu, This-Layer-Up: entering Opened.
    Tlu,
    /// tld, This-Layer-Down: leaving Opened.
    Tld,
    /// tls, This-Layer-Started: entering Starting, the lower layer is needed.
    Tls,
    /// tlf, This-Layer-Finished: entering Initial, Closed or Stopped; the lower layer is not needed.
    Tlf,
    /// irc, Initialize-Restart-Count: Max-Configure, or Max-Terminate before a str.
    Irc,
    /// zrc, Zero-Restart-Count (and start the Restart timer once more).
    Zrc,
    /// scr, Send-Configure-Request (starts the Restart timer).
    Scr,
    /// sca, Send-Configure-Ack.
    Sca,
    /// scn, Send-Configure-Nak or Send-Configure-Reject.
    Scn,
    /// str, Send-Terminate-Request (starts the Restart timer).
    Str,
    /// sta, Send-Terminate-Ack.
    Sta,
    /// scj, Send-Code-Reject.
    Scj,
    /// ser, Send-Echo-Reply.
    Ser,
}

impl Action {
    /// The RFC's abbreviation (`tlu`, `irc`, `scr`, ...).
    pub const fn abbreviation(self) -> &'static str {
        match self {
            Self::Tlu => "tlu",
            Self::Tld => "tld",
            Self::Tls => "tls",
            Self::Tlf => "tlf",
            Self::Irc => "irc",
            Self::Zrc => "zrc",
            Self::Scr => "scr",
            Self::Sca => "sca",
            Self::Scn => "scn",
            Self::Str => "str",
            Self::Sta => "sta",
            Self::Scj => "scj",
            Self::Ser => "ser",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.abbreviation())
    }
}

/// One legal cell of the table: the actions in order, the next state and the RFC footnote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) actions: &'static [Action],
    pub(crate) next: State,
    /// `p`, `r` or `x` (see the module documentation).
    pub(crate) note: Option<char>,
}

/// A legal cell: `go!(Irc, Scr => ReqSent)`, optionally with a footnote `; 'x'`.
macro_rules! go {
    ($($a:ident),* => $s:ident) => {
        Some(Cell { actions: &[$(Action::$a),*], next: State::$s, note: None })
    };
    ($($a:ident),* => $s:ident; $n:literal) => {
        Some(Cell { actions: &[$(Action::$a),*], next: State::$s, note: Some($n) })
    };
}

/// The pure transition function of the RFC 1661 §4.1 table: the actions to take, in order, and
/// the next state.
///
/// Illegal events (the `-` cells) return no action and the same state, as §4.4 asks ("No
/// transition is taken"); [`is_legal`] tells them apart from legal cells without actions.
/// Footnotes are resolved as the module documentation says.
pub fn transition(state: State, event: Event) -> (&'static [Action], State) {
    match cell(state, event) {
        Some(c) => (c.actions, c.next),
        None => (&[], state),
    }
}

/// Whether `event` is legal in `state` (not a `-` cell of the §4.1 table).
pub fn is_legal(state: State, event: Event) -> bool {
    cell(state, event).is_some()
}

/// The cell of the table, `None` for `-`.
pub(crate) const fn cell(state: State, event: Event) -> Option<Cell> {
    match event {
        Event::Up => on_up(state),
        Event::Down => on_down(state),
        Event::Open => on_open(state),
        Event::Close => on_close(state),
        Event::TimeoutPlus => on_timeout_plus(state),
        Event::TimeoutMinus => on_timeout_minus(state),
        Event::RcrPlus => on_rcr_plus(state),
        Event::RcrMinus => on_rcr_minus(state),
        Event::Rca => on_rca(state),
        Event::Rcn => on_rcn(state),
        Event::Rtr => on_rtr(state),
        Event::Rta => on_rta(state),
        Event::Ruc => on_ruc(state),
        Event::RxjPlus => on_rxj_plus(state),
        Event::RxjMinus => on_rxj_minus(state),
        Event::Rxr => on_rxr(state),
    }
}

//= https://www.rfc-editor.org/rfc/rfc1661#section-4.1
//# Up   |    2     irc,scr/6     -         -         -         -
//#      |    -         -         -           -
const fn on_up(s: State) -> Option<Cell> {
    match s {
        State::Initial => go!(=> Closed),
        State::Starting => go!(Irc, Scr => ReqSent),
        _ => None,
    }
}

//# Down |    -         -         0       tls/1       0         1
//#      |    1         1         1         tld/1
const fn on_down(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(=> Initial),
        State::Stopped => go!(Tls => Starting),
        State::Closing => go!(=> Initial),
        State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => go!(=> Starting),
        State::Opened => go!(Tld => Starting),
    }
}

//# Open |  tls/1       1     irc,scr/6     3r        5r        5r
//#      |    6         7         8           9r
const fn on_open(s: State) -> Option<Cell> {
    match s {
        State::Initial => go!(Tls => Starting),
        State::Starting => go!(=> Starting),
        State::Closed => go!(Irc, Scr => ReqSent),
        State::Stopped => go!(=> Stopped; 'r'),
        State::Closing => go!(=> Stopping; 'r'),
        State::Stopping => go!(=> Stopping; 'r'),
        State::ReqSent => go!(=> ReqSent),
        State::AckRcvd => go!(=> AckRcvd),
        State::AckSent => go!(=> AckSent),
        State::Opened => go!(=> Opened; 'r'),
    }
}

//# Close|    0       tlf/0       2         2         4         4
//#      |irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
const fn on_close(s: State) -> Option<Cell> {
    match s {
        State::Initial => go!(=> Initial),
        State::Starting => go!(Tlf => Initial),
        State::Closed | State::Stopped => go!(=> Closed),
        State::Closing | State::Stopping => go!(=> Closing),
        State::ReqSent | State::AckRcvd | State::AckSent => go!(Irc, Str => Closing),
        State::Opened => go!(Tld, Irc, Str => Closing),
    }
}

//#  TO+ |    -         -         -         -       str/4     str/5
//#      |  scr/6     scr/6     scr/8         -
const fn on_timeout_plus(s: State) -> Option<Cell> {
    match s {
        State::Closing => go!(Str => Closing),
        State::Stopping => go!(Str => Stopping),
        State::ReqSent | State::AckRcvd => go!(Scr => ReqSent),
        State::AckSent => go!(Scr => AckSent),
        _ => None,
    }
}

//#  TO- |    -         -         -         -       tlf/2     tlf/3
//#      |  tlf/3p    tlf/3p    tlf/3p        -
const fn on_timeout_minus(s: State) -> Option<Cell> {
    match s {
        State::Closing => go!(Tlf => Closed),
        State::Stopping => go!(Tlf => Stopped),
        State::ReqSent | State::AckRcvd | State::AckSent => go!(Tlf => Stopped; 'p'),
        _ => None,
    }
}

//# RCR+ |    -         -       sta/2 irc,scr,sca/8   4         5
//#      |  sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
const fn on_rcr_plus(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(Sta => Closed),
        State::Stopped => go!(Irc, Scr, Sca => AckSent),
        State::Closing => go!(=> Closing),
        State::Stopping => go!(=> Stopping),
        State::ReqSent => go!(Sca => AckSent),
        State::AckRcvd => go!(Sca, Tlu => Opened),
        State::AckSent => go!(Sca => AckSent),
        State::Opened => go!(Tld, Scr, Sca => AckSent),
    }
}

//# RCR- |    -         -       sta/2 irc,scr,scn/6   4         5
//#      |  scn/6     scn/7     scn/6   tld,scr,scn/6
const fn on_rcr_minus(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(Sta => Closed),
        State::Stopped => go!(Irc, Scr, Scn => ReqSent),
        State::Closing => go!(=> Closing),
        State::Stopping => go!(=> Stopping),
        State::ReqSent => go!(Scn => ReqSent),
        State::AckRcvd => go!(Scn => AckRcvd),
        State::AckSent => go!(Scn => ReqSent),
        State::Opened => go!(Tld, Scr, Scn => ReqSent),
    }
}

//# RCA  |    -         -       sta/2     sta/3       4         5
//#      |  irc/7     scr/6x  irc,tlu/9   tld,scr/6x
const fn on_rca(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(Sta => Closed),
        State::Stopped => go!(Sta => Stopped),
        State::Closing => go!(=> Closing),
        State::Stopping => go!(=> Stopping),
        State::ReqSent => go!(Irc => AckRcvd),
        State::AckRcvd => go!(Scr => ReqSent; 'x'),
        State::AckSent => go!(Irc, Tlu => Opened),
        State::Opened => go!(Tld, Scr => ReqSent; 'x'),
    }
}

//# RCN  |    -         -       sta/2     sta/3       4         5
//#      |irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
const fn on_rcn(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(Sta => Closed),
        State::Stopped => go!(Sta => Stopped),
        State::Closing => go!(=> Closing),
        State::Stopping => go!(=> Stopping),
        State::ReqSent => go!(Irc, Scr => ReqSent),
        State::AckRcvd => go!(Scr => ReqSent; 'x'),
        State::AckSent => go!(Irc, Scr => AckSent),
        State::Opened => go!(Tld, Scr => ReqSent; 'x'),
    }
}

//# RTR  |    -         -       sta/2     sta/3     sta/4     sta/5
//#      |  sta/6     sta/6     sta/6   tld,zrc,sta/5
const fn on_rtr(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(Sta => Closed),
        State::Stopped => go!(Sta => Stopped),
        State::Closing => go!(Sta => Closing),
        State::Stopping => go!(Sta => Stopping),
        State::ReqSent | State::AckRcvd | State::AckSent => go!(Sta => ReqSent),
        State::Opened => go!(Tld, Zrc, Sta => Stopping),
    }
}

//# RTA  |    -         -         2         3       tlf/2     tlf/3
//#      |    6         6         8       tld,scr/6
const fn on_rta(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(=> Closed),
        State::Stopped => go!(=> Stopped),
        State::Closing => go!(Tlf => Closed),
        State::Stopping => go!(Tlf => Stopped),
        State::ReqSent | State::AckRcvd => go!(=> ReqSent),
        State::AckSent => go!(=> AckSent),
        State::Opened => go!(Tld, Scr => ReqSent),
    }
}

//# RUC  |    -         -       scj/2     scj/3     scj/4     scj/5
//#      |  scj/6     scj/7     scj/8       scj/9
const fn on_ruc(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(Scj => Closed),
        State::Stopped => go!(Scj => Stopped),
        State::Closing => go!(Scj => Closing),
        State::Stopping => go!(Scj => Stopping),
        State::ReqSent => go!(Scj => ReqSent),
        State::AckRcvd => go!(Scj => AckRcvd),
        State::AckSent => go!(Scj => AckSent),
        State::Opened => go!(Scj => Opened),
    }
}

//# RXJ+ |    -         -         2         3         4         5
//#      |    6         6         8           9
const fn on_rxj_plus(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(=> Closed),
        State::Stopped => go!(=> Stopped),
        State::Closing => go!(=> Closing),
        State::Stopping => go!(=> Stopping),
        State::ReqSent | State::AckRcvd => go!(=> ReqSent),
        State::AckSent => go!(=> AckSent),
        State::Opened => go!(=> Opened),
    }
}

//# RXJ- |    -         -       tlf/2     tlf/3     tlf/2     tlf/3
//#      |  tlf/3     tlf/3     tlf/3   tld,irc,str/5
const fn on_rxj_minus(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed | State::Closing => go!(Tlf => Closed),
        State::Stopped | State::Stopping => go!(Tlf => Stopped),
        State::ReqSent | State::AckRcvd | State::AckSent => go!(Tlf => Stopped),
        State::Opened => go!(Tld, Irc, Str => Stopping),
    }
}

//# RXR  |    -         -         2         3         4         5
//#      |    6         7         8         ser/9
const fn on_rxr(s: State) -> Option<Cell> {
    match s {
        State::Initial | State::Starting => None,
        State::Closed => go!(=> Closed),
        State::Stopped => go!(=> Stopped),
        State::Closing => go!(=> Closing),
        State::Stopping => go!(=> Stopping),
        State::ReqSent => go!(=> ReqSent),
        State::AckRcvd => go!(=> AckRcvd),
        State::AckSent => go!(=> AckSent),
        State::Opened => go!(Ser => Opened),
    }
}

/// The cell in the RFC's notation: `irc,scr/6`, `3r`, `tlf/3p`, `-`.
#[cfg(test)]
pub(crate) fn rfc_notation(state: State, event: Event) -> String {
    let Some(c) = cell(state, event) else {
        return "-".to_owned();
    };
    let mut s = String::new();
    for (i, a) in c.actions.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(a.abbreviation());
    }
    if !c.actions.is_empty() {
        s.push('/');
    }
    s.push(char::from(b'0' + c.next.number()));
    if let Some(n) = c.note {
        s.push(n);
    }
    s
}
