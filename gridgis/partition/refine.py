"""Repair and refine a labelling of sites: contiguity first, then load balance by boundary moves."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def make_contiguous(labels: np.ndarray, graph: sparse.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """Keep each part's heaviest connected piece; give the other sites to the neighbour they share most with.

    Sites labelled -1 are given a part the same way. Every part keeps at
    least one site, and every part ends connected in ``graph`` (provided the
    graph itself is connected).

    Examples
    --------
    >>> from scipy import sparse
    >>> path = sparse.diags([1.0, 1.0], [-1, 1], shape=(4, 4)).tocsr()  # 0-1-2-3
    >>> make_contiguous(np.array([0, 1, 0, 1]), path, np.ones(4)).tolist()
    [0, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    given = labels.copy()
    n = len(labels)
    coo = graph.tocoo()
    same = labels[coo.row] == labels[coo.col]
    inner = sparse.coo_matrix((np.ones(same.sum()), (coo.row[same], coo.col[same])), shape=(n, n))
    _, comp = connected_components(inner, directed=False)
    valid = labels >= 0
    comp_weight = np.bincount(comp, weights=weights + 1e-9, minlength=comp.max() + 1)
    main = np.zeros(labels.max() + 1 if valid.any() else 0, dtype=np.int64) - 1
    best = np.full(len(main), -1.0)
    for c in np.unique(comp[valid]):
        lab = labels[np.flatnonzero(comp == c)[0]]
        if comp_weight[c] > best[lab]:
            best[lab], main[lab] = comp_weight[c], c
    keep = valid & (main[np.maximum(labels, 0)] == comp)
    labels[~keep] = -1
    row, col, val = coo.row, coo.col, coo.data
    while (labels < 0).any():
        open_ = (labels[row] < 0) & (labels[col] >= 0)
        if not open_.any():
            break
        r, c, v = row[open_], col[open_], val[open_]
        order = np.lexsort((-v, r))
        first = order[np.unique(r[order], return_index=True)[1]]
        labels[r[first]] = labels[c[first]]
    # a piece of the graph cut off from every kept part (the graph is not connected) keeps its labels
    stranded = labels < 0
    labels[stranded] = given[stranded]
    return labels


class _Balancer:
    """Moves boundary sites between adjacent parts to bring loads to their target, keeping parts connected."""

    def __init__(self, labels, graph: sparse.csr_matrix, weights, k, target):
        self.labels = labels
        self.indptr, self.indices, self.data = graph.indptr, graph.indices, graph.data
        self.w = weights
        self.k = k
        self.target = target
        self.load = np.bincount(labels, weights=weights, minlength=k)
        self.size = np.bincount(labels, minlength=k)
        coo = graph.tocoo()
        self.row, self.col = coo.row, coo.col

    def neighbours(self, s: int) -> np.ndarray:
        return self.indices[self.indptr[s] : self.indptr[s + 1]]

    def removable(self, s: int) -> bool:
        """Whether part ``labels[s]`` stays connected (and non-empty) without site ``s``."""
        g = self.labels[s]
        if self.size[g] <= 1:
            return False
        nb = self.neighbours(s)
        nb = nb[self.labels[nb] == g]
        if len(nb) <= 1:
            return len(nb) == 1
        # fast check: neighbours connected through the ring around s
        ring = set(nb.tolist())
        for t in nb:
            ring.update(u for u in self.neighbours(t).tolist() if self.labels[u] == g)
        ring.discard(s)
        if self._connects(nb, ring):
            return True
        members = set(np.flatnonzero(self.labels == g).tolist())
        members.discard(s)
        return self._connects(nb, members)

    def _connects(self, nb: np.ndarray, allowed: set) -> bool:
        goal = set(nb.tolist())
        seen = {int(nb[0])}
        todo = [int(nb[0])]
        while todo and not goal <= seen:
            t = todo.pop()
            for u in self.neighbours(t).tolist():
                if u in allowed and u not in seen:
                    seen.add(u)
                    todo.append(u)
        return goal <= seen

    def gain(self, s: int, h: int) -> float:
        """Boundary length saved by moving ``s`` into part ``h`` (positive: smoother shapes)."""
        nb = self.neighbours(s)
        d = self.data[self.indptr[s] : self.indptr[s + 1]]
        lab = self.labels[nb]
        return float(d[lab == h].sum() - d[lab == self.labels[s]].sum())

    def move(self, s: int, h: int) -> None:
        g = self.labels[s]
        self.labels[s] = h
        self.load[g] -= self.w[s]
        self.load[h] += self.w[s]
        self.size[g] -= 1
        self.size[h] += 1

    def flows(self) -> dict[tuple[int, int], float]:
        """Load to send over each pair of adjacent parts: the least-squares flow meeting every excess."""
        lr, lc = self.labels[self.row], self.labels[self.col]
        cross = lr != lc
        pairs = np.unique(np.column_stack([lr[cross], lc[cross]]), axis=0)
        pairs = pairs[pairs[:, 0] < pairs[:, 1]]
        if not len(pairs):
            return {}
        lap = np.zeros((self.k, self.k))
        np.add.at(lap, (pairs[:, 0], pairs[:, 1]), -1.0)
        np.add.at(lap, (pairs[:, 1], pairs[:, 0]), -1.0)
        lap[np.diag_indices(self.k)] = -lap.sum(axis=1)
        phi = np.linalg.lstsq(lap, self.load - self.target, rcond=None)[0]
        out = {}
        for g, h in pairs:
            f = phi[g] - phi[h]
            if f > 0:
                out[(int(g), int(h))] = float(f)
            elif f < 0:
                out[(int(h), int(g))] = float(-f)
        return out

    def candidates(self) -> dict[tuple[int, int], np.ndarray]:
        """Sites of part g with a neighbour in part h, per (g, h)."""
        lr, lc = self.labels[self.row], self.labels[self.col]
        cross = lr != lc
        if not cross.any():
            return {}
        keys = lr[cross] * self.k + lc[cross]
        sites = self.row[cross]
        order = np.lexsort((sites, keys))
        keys, sites = keys[order], sites[order]
        uniq, start = np.unique(keys, return_index=True)
        parts = np.split(sites, start[1:])
        return {(int(key // self.k), int(key % self.k)): np.unique(p) for key, p in zip(uniq, parts, strict=True)}

    def max_deviation(self) -> float:
        return float(np.max(np.abs(self.load - self.target) / self.target))

    def round(self) -> int:
        moved = 0
        cands = self.candidates()
        for (g, h), f in sorted(self.flows().items(), key=lambda item: -item[1]):
            todo = cands.get((g, h))
            if todo is None:
                continue
            todo = todo[self.w[todo] > 0]
            todo = sorted(todo.tolist(), key=lambda s: -self.gain(s, h))
            for s in todo:
                if f <= 0:
                    break
                ws = self.w[s]
                # a move must bring the flow closer to zero and not overshoot the receiver
                if ws >= 2 * f or self.labels[s] != g or not self.removable(s):
                    continue
                if not any(self.labels[u] == h for u in self.neighbours(s).tolist()):
                    continue
                self.move(s, h)
                f -= ws
                moved += 1
        return moved

    def polish(self) -> int:
        """One pass of moves and swaps that narrow the load gap of two adjacent parts (never widen any).

        Moving weight ``d`` from part g to part h lowers the sum of squared
        deviations whenever ``0 < d < load[g] - load[h]``; both loads stay
        between the old two, so the largest deviation never grows.
        """
        moved = 0
        cands = self.candidates()
        pairs = sorted(cands, key=lambda gh: self.load[gh[1]] - self.load[gh[0]])
        for g, h in pairs:
            gap = self.load[g] - self.load[h]
            if gap <= 0:
                continue
            sites = cands[(g, h)]
            sites = sites[(self.labels[sites] == g) & (self.w[sites] > 0) & (self.w[sites] < gap)]
            for s in sites[np.argsort(np.abs(self.w[sites] - gap / 2), kind="stable")].tolist():
                if self.removable(s) and any(self.labels[u] == h for u in self.neighbours(s).tolist()):
                    self.move(s, h)
                    moved += 1
                    break
            else:
                moved += self._swap_pair(g, h, cands.get((h, g)), sites_out=cands[(g, h)], gap=gap)
        return moved

    def _swap_pair(self, g: int, h: int, back, *, sites_out, gap: float, tries: int = 25) -> int:
        if back is None:
            return 0
        out = sites_out[self.labels[sites_out] == g]
        back = back[self.labels[back] == h]
        if not len(out) or not len(back):
            return 0
        net = self.w[out][:, None] - self.w[back][None, :]
        si, ti = np.nonzero((net > 0) & (net < gap))
        order = np.argsort(np.abs(net[si, ti] - gap / 2), kind="stable")[:tries]
        for s, t in zip(out[si[order]], back[ti[order]], strict=True):
            if self._swap(int(s), g, int(t), h):
                return 1
        return 0

    def chain(self, worst: int = 4, tries: int = 30) -> int:
        """Two moves in a row for one of the worst parts; keep the first that lowers the squared deviations.

        An overloaded part g hands a site to a neighbour h, which passes one
        on to j (j may be g: a swap); an underloaded part receives the last
        site of such a chain. This reaches balances that no single move
        between two parts can, e.g. a part over its target by less than any
        of its boundary sites.
        """
        cands = self.candidates()
        into: dict[int, list] = {}
        out_of: dict[int, list] = {}
        for (a, b), sites in cands.items():
            out_of.setdefault(a, []).append((a, b, sites))
            into.setdefault(b, []).append((a, b, sites))
        dev = self.load - self.target
        for g in np.argsort(-np.abs(dev))[:worst].tolist():
            legs = []
            if dev[g] > 0:
                for first in out_of.get(g, []):
                    legs.extend((first, second) for second in out_of.get(first[1], []))
            else:
                for second in into.get(g, []):
                    legs.extend((first, second) for first in into.get(second[0], []))
            options = []
            for (s_src, s_dst, s_sites), (t_src, t_dst, t_sites) in legs:
                ws, wt = self.w[s_sites][:, None], self.w[t_sites][None, :]
                parts = {s_src, s_dst, t_src, t_dst}
                change = -sum(dev[p] ** 2 for p in parts)
                for p in parts:
                    after = dev[p] + ws * ((p == s_dst) - (p == s_src)) + wt * ((p == t_dst) - (p == t_src))
                    change = change + after**2
                change = np.where(np.equal.outer(s_sites, t_sites), np.inf, change)
                for i, j in zip(*np.nonzero(change < -1e-9), strict=True):
                    options.append((float(change[i, j]), int(s_sites[i]), s_src, s_dst, int(t_sites[j]), t_src, t_dst))
            options.sort()
            for _, s, s_src, s_dst, t, t_src, t_dst in options[:tries]:
                self.move(s, s_dst)
                self.move(t, t_dst)
                if all(self.connected(p) for p in {s_src, s_dst, t_src, t_dst}):
                    return 1
                self.move(t, t_src)
                self.move(s, s_src)
        return 0

    def smooth(self, tol: float, tries: int = 200) -> int:
        """Swap protruding boundary sites between adjacent parts (shorter shared boundary), keeping the balance.

        A site of g that shares more boundary with h than with g is traded
        for a site of h that shares more with g, when both parts stay within
        ``max(tol, their current deviation)`` of the target and stay connected.
        """
        moved = 0
        cands = self.candidates()
        # shared length of every site with every part
        share = sparse.csr_matrix((self.data, (self.row, self.labels[self.col])), shape=(len(self.labels), self.k))
        for (g, h), out in cands.items():
            if g > h or (h, g) not in cands:
                continue
            back = cands[(h, g)]
            out = out[self.labels[out] == g]
            back = back[self.labels[back] == h]
            if not len(out) or not len(back):
                continue
            gain_out = (share[out, h] - share[out, g]).toarray().ravel()
            gain_back = (share[back, g] - share[back, h]).toarray().ravel()
            out, gain_out = out[gain_out > 0], gain_out[gain_out > 0]
            back, gain_back = back[gain_back > 0], gain_back[gain_back > 0]
            if not len(out) or not len(back):
                continue
            net = self.w[out][:, None] - self.w[back][None, :]
            score = gain_out[:, None] + gain_back[None, :]
            for i, j in zip(*np.unravel_index(np.argsort(-score, axis=None)[:tries], score.shape), strict=True):
                slack_g = max(tol * self.target[g], abs(self.load[g] - self.target[g]))
                slack_h = max(tol * self.target[h], abs(self.load[h] - self.target[h]))
                d = net[i, j]
                if abs(self.load[g] - d - self.target[g]) > slack_g or abs(self.load[h] + d - self.target[h]) > slack_h:
                    continue
                if self._swap(int(out[i]), g, int(back[j]), h):
                    moved += 1
        return moved

    def _swap(self, s: int, g: int, t: int, h: int) -> bool:
        """Exchange site s of part g with site t of part h if both parts stay connected."""
        if self.labels[s] != g or self.labels[t] != h or not self.removable(s):
            return False
        self.move(s, h)
        nb_t, nb_s = self.neighbours(t), self.neighbours(s)
        if self.removable(t) and (self.labels[nb_t] == g).any():
            self.move(t, g)
            if (self.labels[nb_s] == h).any():
                return True
            self.move(t, h)
        self.move(s, g)
        return False

    def connected(self, g: int) -> bool:
        members = np.flatnonzero(self.labels == g)
        return len(members) > 0 and self._connects(members, set(members.tolist()))


def balance(
    labels: np.ndarray,
    graph: sparse.csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    targets: np.ndarray | None = None,
    tol: float = 0.0,
    max_rounds: int = 40,
    smooth_rounds: int = 0,
    kicks: int = 0,
    kick_walk: bool = True,
) -> np.ndarray:
    """Move boundary sites between adjacent parts until loads meet their targets, keeping parts connected.

    Three phases, each until the largest deviation is at most ``tol``, a
    round changes nothing or ``max_rounds`` is reached:

    1. flow: solve the least-squares flow of load over the part adjacency
       graph that removes every excess (the diffusion scheme of parallel
       graph partitioners) and move boundary sites along it, smoothest
       boundary first;
    2. polish: moves and swaps between two adjacent parts that narrow their
       load gap (the largest deviation never grows);
    3. chain: two moves in a row (g -> h -> j) for the worst parts.

    If the largest deviation is still above ``tol``, up to ``kicks``
    rebalanced moves follow (see :func:`_kick_search`): a site of any
    weight, e.g. a high-rise worth half a target, crosses a boundary of
    the worst part even though that overshoots, and the three phases
    above then pass the excess on along the chain of neighbouring parts
    (or bring small sites back in exchange); the result is kept only if
    it lowers the largest deviation. This reaches plans that no
    narrowing move can. ``kick_walk=False``: a hill climb (cheaper).

    Then ``smooth_rounds`` rounds of load-neutral swaps that shorten the
    boundaries (each part stays within ``max(tol, its deviation)``). No
    move ever splits a part. Returns the best labelling seen; ``targets``
    (summing to the total load) default to equal shares.

    Examples
    --------
    >>> from scipy import sparse
    >>> path = sparse.diags([1.0, 1.0], [-1, 1], shape=(6, 6)).tocsr()
    >>> balance(np.array([0, 0, 0, 0, 1, 1]), path, np.ones(6), 2).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    weights = np.asarray(weights, dtype=float)
    if k <= 1 or weights.sum() <= 0:
        return labels
    target = np.full(k, weights.sum() / k) if targets is None else np.asarray(targets, dtype=float)
    b = _Balancer(labels, graph, weights, k, target)
    best, best_dev = labels.copy(), b.max_deviation()
    for step in ("round", "polish", "chain"):
        b = _Balancer(best.copy(), graph, weights, k, target)
        for _ in range(max_rounds):
            if best_dev <= tol or getattr(b, step)() == 0:
                break
            dev = b.max_deviation()
            if dev < best_dev - 1e-12:
                best, best_dev = b.labels.copy(), dev
    if kicks and best_dev > tol:
        best = _kick_search(
            best, graph, weights, k, target, tol=tol, max_rounds=max_rounds, budget=kicks, walk=kick_walk
        )
    if smooth_rounds:
        b = _Balancer(best.copy(), graph, weights, k, target)
        for _ in range(smooth_rounds):
            if b.smooth(tol) == 0:
                break
        best = b.labels.copy()
    return best


def _kick_search(
    labels, graph, weights, k, target, *, tol: float, max_rounds: int, budget: int, walk: bool = True
) -> np.ndarray:
    """Tabu walk over forced moves: force one move at the worst part, rebalance, go on from the best result.

    From the current plan, the forced moves tried are boundary sites
    leaving the worst part when it is overloaded (entering it from any
    neighbour when underloaded): the few whose weight is closest to its
    excess and the few heaviest (the towers no narrowing move shifts).
    Each is followed by one :func:`balance` without kicks, which passes
    the overshoot on along the chain of neighbouring parts or brings small
    sites back in exchange. The walk moves to the best plan not seen
    before even when it is worse (so it can leave a local optimum), and
    returns the best plan seen: lowest largest deviation, then lowest sum
    of squared deviations. ``budget`` caps the number of rebalances; every
    plan keeps all parts connected and non-empty. With ``walk=False`` it
    is a hill climb instead: it stops at the first step that finds no
    better plan (the worst three parts tried in turn).
    """

    def score(lab):
        dev = (np.bincount(lab, weights=weights, minlength=k) - target) / target
        return float(np.abs(dev).max()), float((dev**2).sum())

    current = best = labels
    best_score = score(labels)
    seen = {labels.tobytes()}
    used = 0
    while used < budget and best_score[0] > tol:
        b = _Balancer(current.copy(), graph, weights, k, target)
        dev = b.load - b.target
        cands = b.candidates()
        tried = []
        for g in np.argsort(-np.abs(dev) / target)[:3].tolist():
            moves = []
            for (src, dst), sites in cands.items():
                if (dev[g] > 0 and src == g) or (dev[g] < 0 and dst == g):
                    moves.extend((int(s), src, dst) for s in sites if weights[s] > 0)
            if not moves:
                continue
            ws = np.array([weights[s] for s, _, _ in moves])
            near = np.argsort(np.abs(ws - abs(dev[g])), kind="stable")[:4]
            heavy = np.argsort(-ws, kind="stable")[:4]
            for i in dict.fromkeys(np.concatenate([near, heavy]).tolist()):
                s, src, dst = moves[i]
                if used >= budget or b.labels[s] != src or not b.removable(s):
                    continue
                kicked = current.copy()
                kicked[s] = dst
                used += 1
                lab = balance(kicked, graph, weights, k, targets=target, tol=tol, max_rounds=max_rounds)
                if lab.tobytes() not in seen:
                    tried.append((score(lab), lab))
            if tried and (walk or min(t[0] for t in tried) < best_score):
                break
        if not tried:
            break
        sc, current = min(tried, key=lambda t: t[0])
        seen.add(current.tobytes())
        if sc < best_score:
            best, best_score = current, sc
        elif not walk:
            break
    return best


class _Shaper(_Balancer):
    """Moves of boundary units that raise compactness and put cut edges on streets, loads kept in a band."""

    def __init__(self, labels, graph, inner, area, outer, weights, k, target, band, street_weight, balance_weight):
        super().__init__(labels, graph, weights, k, target)
        self.inner = inner
        self.balance_weight = balance_weight
        self.area_u, self.outer_u = area, outer
        self.band = band
        self.area = np.bincount(labels, weights=area, minlength=k)
        cut = labels[self.row] != labels[self.col]
        self.perimeter = np.bincount(labels, weights=outer, minlength=k) + np.bincount(
            labels[self.row[cut]], weights=self.data[cut], minlength=k
        )
        # a metre of cut edge off the streets costs as much as street_weight metres of the outline of a
        # square of the mean grid area (fixed per area, so that objectives of different plans compare)
        self.penalty = street_weight / max(4 * float(np.sqrt(area.sum() / k)), 1e-9)

    def objective(self) -> float:
        """Sum of Polsby-Popper scores, less the off-street cut and the spread of the loads."""
        cut = self.labels[self.row] != self.labels[self.col]
        dev = (self.load - self.target) / self.target
        return float(
            self._pp(self.area, self.perimeter).sum()
            - self.penalty * self.inner[cut].sum() / 2
            - self.balance_weight * (dev**2).sum()
        )

    @staticmethod
    def _pp(area, perimeter):
        return np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, 1e-12) ** 2, 0.0)

    def _after(self, u, g, h, to_g, to_h, in_g, in_h, total):
        """Change of the objective when unit(s) ``u`` move from ``g`` to ``h`` (arrays or scalars)."""
        a, o = self.area_u[u], self.outer_u[u]
        pg = self.perimeter[g] - o - total + 2 * to_g
        ph = self.perimeter[h] + o + total - 2 * to_h
        before = self._pp(self.area[g], self.perimeter[g]) + self._pp(self.area[h], self.perimeter[h])
        after = self._pp(self.area[g] - a, pg) + self._pp(self.area[h] + a, ph)
        w, tg, th = self.w[u], self.target[g], self.target[h]
        dg, dh = (self.load[g] - tg) / tg, (self.load[h] - th) / th
        spread = (dg - w / tg) ** 2 + (dh + w / th) ** 2 - dg**2 - dh**2
        return after - before - self.penalty * (in_g - in_h) - self.balance_weight * spread

    def allowed(self, u: int, g: int, h: int, back: float = 0.0) -> bool:
        """Both loads stay in the band around their target, or get closer to it (``back``: load coming back)."""
        w = self.w[u] - back
        if w == 0:
            return True
        for part, new in ((g, self.load[g] - w), (h, self.load[h] + w)):
            old_off = abs(self.load[part] - self.target[part])
            new_off = abs(new - self.target[part])
            if new_off > self.band * self.target[part] + 1e-9 and new_off >= old_off:
                return False
        return True

    def gain(self, u: int, h: int) -> float:  # type: ignore[override]
        g = self.labels[u]
        lo, hi = self.indptr[u], self.indptr[u + 1]
        lab = self.labels[self.indices[lo:hi]]
        d, e = self.data[lo:hi], self.inner[lo:hi]
        return float(
            self._after(u, g, h, d[lab == g].sum(), d[lab == h].sum(), e[lab == g].sum(), e[lab == h].sum(), d.sum())
        )

    def move(self, s: int, h: int) -> None:
        g = self.labels[s]
        lo, hi = self.indptr[s], self.indptr[s + 1]
        lab = self.labels[self.indices[lo:hi]]
        d = self.data[lo:hi]
        total = d.sum()
        self.perimeter[g] += -self.outer_u[s] - total + 2 * d[lab == g].sum()
        self.perimeter[h] += self.outer_u[s] + total - 2 * d[lab == h].sum()
        self.area[g] -= self.area_u[s]
        self.area[h] += self.area_u[s]
        super().move(s, h)

    def swaps(self, tries: int = 6) -> int:
        """Exchanges of boundary units between adjacent grids that raise the objective (the band held at the end).

        A single move can leave a load outside the band where an exchange
        keeps both inside; the ``tries`` best single moves each way are paired.
        """
        done = 0
        cands = self.candidates()
        for (g, h), out in cands.items():
            back = cands.get((h, g))
            if g > h or back is None:
                continue
            out = out[self.labels[out] == g]
            back = back[self.labels[back] == h]
            out = out[np.argsort([-self.gain(u, h) for u in out.tolist()], kind="stable")[:tries]]
            back = back[np.argsort([-self.gain(v, g) for v in back.tolist()], kind="stable")[:tries]]
            for u in out.tolist():
                for v in back.tolist():
                    if self._exchange(u, g, v, h):
                        done += 1
                        break
                else:
                    continue
                break
        return done

    def _exchange(self, u: int, g: int, v: int, h: int) -> bool:
        """Move ``u`` to ``h`` and ``v`` to ``g`` if that raises the objective, keeps both connected and in the band."""
        if self.labels[u] != g or self.labels[v] != h or not self.allowed(u, g, h, back=self.w[v]):
            return False
        if self.size[g] <= 1 or not self.removable(u):
            return False
        gain = self.gain(u, h)
        self.move(u, h)
        can = self.size[h] > 1 and self.removable(v) and (self.labels[self.neighbours(v)] == g).any()
        if can and gain + self.gain(v, g) > 1e-9:
            self.move(v, g)
            if (self.labels[self.neighbours(u)] == h).any():
                return True
            self.move(v, h)
        self.move(u, g)
        return False

    def round(self) -> int:  # type: ignore[override]
        lr, lc = self.labels[self.row], self.labels[self.col]
        cross = lr != lc
        if not cross.any():
            return 0
        m = len(self.labels)
        share = sparse.csr_matrix((self.data, (self.row, lc)), shape=(m, self.k))
        inner = sparse.csr_matrix((self.inner, (self.row, lc)), shape=(m, self.k))
        pairs = np.unique(np.column_stack([self.row[cross], lc[cross]]), axis=0)
        u, h = pairs[:, 0], pairs[:, 1]
        g = self.labels[u]
        total = np.bincount(self.row, weights=self.data, minlength=m)[u]
        gain = self._after(
            u,
            g,
            h,
            np.asarray(share[u, g]).ravel(),
            np.asarray(share[u, h]).ravel(),
            np.asarray(inner[u, g]).ravel(),
            np.asarray(inner[u, h]).ravel(),
            total,
        )
        moved = 0
        for i in np.argsort(-gain, kind="stable")[: int((gain > 1e-9).sum())].tolist():
            s, dst = int(u[i]), int(h[i])
            src = self.labels[s]
            if src == dst or self.size[src] <= 1 or not self.allowed(s, src, dst):
                continue
            if not (self.labels[self.neighbours(s)] == dst).any() or self.gain(s, dst) <= 1e-9:
                continue
            if self.removable(s):
                self.move(s, dst)
                moved += 1
        return moved


def shape(
    labels: np.ndarray,
    graph: sparse.csr_matrix,
    inner: sparse.csr_matrix,
    area: np.ndarray,
    outer: np.ndarray,
    weights: np.ndarray,
    k: int,
    *,
    band: float,
    street_weight: float = 2.0,
    balance_weight: float = 2.0,
    max_rounds: int = 20,
    with_objective: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """Trade balance within ``band`` for compact grids whose edges follow streets: greedy unit moves.

    The objective is the sum of the grids' Polsby-Popper scores (4 pi area /
    perimeter², from the units' ``area``, their ``outer`` boundary length and
    the shared lengths in ``graph``), less ``street_weight`` / (the
    perimeter of a square of the mean grid area) per metre of cut edge off
    the streets (``inner``: the part of each shared length inside a street
    block), less ``balance_weight`` times the sum of the squared relative deviations
    of the loads (so a load moves away from its share only for a real gain).
    Each round moves boundary units to the adjacent grid, best gain first,
    when the move raises the objective, keeps both grids connected and
    non-empty, and keeps each load within ``band`` of its equal share (or
    brings it closer); when no single move does, exchanges of two units
    between adjacent grids are tried. Stops when a round changes nothing, or
    after ``max_rounds``.

    Returns ``(n,)`` grid of each unit (``with_objective``: and the objective it reached).

    Examples
    --------
    Ten unit squares in a row, a street between the 6th and the 7th, two grids of five: the cut moves
    onto the street when a load of 6 : 4 is within the band.

    >>> from scipy import sparse
    >>> path = sparse.diags([1.0, 1.0], [-1, 1], shape=(10, 10)).tocsr()
    >>> coo = path.tocoo()
    >>> inner = sparse.csr_matrix((np.where(coo.row + coo.col == 11, 0.0, 1.0), (coo.row, coo.col)))
    >>> outer = np.array([3.0] + [2.0] * 8 + [3.0])
    >>> plan = np.repeat([0, 1], 5)
    >>> shape(plan, path, inner, np.ones(10), outer, np.ones(10), 2, band=0.25).tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    >>> shape(plan, path, inner, np.ones(10), outer, np.ones(10), 2, band=0.1).tolist()
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    if k <= 1 or not len(labels):
        return (labels, 0.0) if with_objective else labels
    weights = np.asarray(weights, dtype=float)
    target = np.full(k, weights.sum() / k if weights.sum() > 0 else 1.0)
    coo = graph.tocoo()  # in the order of graph.data
    off_street = np.asarray(inner[coo.row, coo.col], dtype=float).ravel()
    s = _Shaper(labels, graph, off_street, area, outer, weights, k, target, band, street_weight, balance_weight)
    for _ in range(max_rounds):
        if s.round() == 0 and s.swaps() == 0:
            break
    return (s.labels, s.objective()) if with_objective else s.labels
