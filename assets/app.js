/* Clientside behaviour of the shell and the filter bar (pure UI: no data, no server). */
(function () {
    "use strict";
    var THEME_KEY = "app-theme-store";   // dcc.Store(storage_type="local") keeps its JSON here
    var FILTER_KEYS = ["start", "end", "platform", "category"];  // preset: syncPreset

    function storedTheme() {
        try {
            return JSON.parse(window.localStorage.getItem(THEME_KEY)) === "dark" ? "dark" : "light";
        } catch (e) {
            return "light";
        }
    }

    function applyTheme(theme) {
        document.documentElement.setAttribute("data-bs-theme", theme === "dark" ? "dark" : "light");
    }

    // Before Dash renders anything, so a dark page never flashes white.
    applyTheme(storedTheme());

    /* Dash's date pickers take a typed date only on Enter or Tab: typing a start date and then
       clicking into the end date (or anywhere else) left the typed text on screen while the
       figures kept the old date. Leaving a date field now commits what it shows, as Tab does
       (an invalid text reverts to the date in use). */
    document.addEventListener("focusout", function (event) {
        var field = event.target;
        if (!field || !field.classList || !field.classList.contains("dash-datepicker-input")) {
            return;
        }
        field.dispatchEvent(new KeyboardEvent("keydown", {key: "Tab", code: "Tab", bubbles: true}));
    }, true);

    function readableSearch(params) {
        var text = params.toString().replace(/%2C/gi, ",");
        return text ? "?" + text : "";
    }

    function filterParams(start, end, platforms, categories) {
        var params = new URLSearchParams();
        if (start) { params.set("start", String(start).slice(0, 10)); }
        if (end) { params.set("end", String(end).slice(0, 10)); }
        if (platforms && platforms.length) { params.set("platform", platforms.join(",")); }
        if (categories && categories.length) { params.set("category", categories.join(",")); }
        return params;
    }

    function carriedSearch(own, preset) {
        var params = new URLSearchParams();
        if (preset) { params.set("preset", preset); }
        own.forEach(function (value, key) { params.set(key, value); });
        return readableSearch(params);
    }

    function replaceParams(update) {
        var params = new URLSearchParams(window.location.search);
        update(params);
        var url = window.location.pathname + readableSearch(params) + window.location.hash;
        window.history.replaceState(window.history.state, "", url);
    }

    function normalizePath(path) {
        return path && path.length > 1 ? path.replace(/\/+$/, "") : (path || "/");
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        bi: {
            /* Filter change -> the URL (no re-render, shareable) and the search the sidebar carries. */
            syncFilters: function (start, end, platforms, categories) {
                var own = filterParams(start, end, platforms, categories);
                var preset = new URLSearchParams(window.location.search).get("preset");
                replaceParams(function (params) {
                    FILTER_KEYS.forEach(function (key) { params.delete(key); });
                    own.forEach(function (value, key) { params.set(key, value); });
                });
                return carriedSearch(own, preset);
            },

            /* Preset chosen or cleared -> the URL's preset (it wins over the dates on load, so a
               shared "last 7 days" link keeps rolling) and the search the sidebar carries. */
            syncPreset: function (preset) {
                replaceParams(function (params) {
                    if (preset) { params.set("preset", preset); } else { params.delete("preset"); }
                });
                var params = new URLSearchParams(window.location.search);
                var own = new URLSearchParams();
                ["start", "end", "platform", "category"].forEach(function (key) {
                    if (params.get(key)) { own.set(key, params.get(key)); }
                });
                return carriedSearch(own, preset);
            },

            /* One URL parameter that only the current page uses (e.g. a chart's granularity). */
            syncParam: function (name) {
                return function (value) {
                    replaceParams(function (params) {
                        if (value === null || value === undefined || value === "") {
                            params.delete(name);
                        } else {
                            params.set(name, String(value));
                        }
                    });
                    return window.dash_clientside.no_update;
                };
            },

            /* Theme: the switch writes the store; the store (localStorage) sets the switch. */
            theme: function (switchOn, stored) {
                var ctx = window.dash_clientside.callback_context;
                var fromSwitch = (ctx.triggered || []).some(function (t) {
                    return t.prop_id === "app-theme-switch.value";
                });
                var theme = fromSwitch ? (switchOn ? "dark" : "light") : (stored === "dark" ? "dark" : "light");
                applyTheme(theme);
                return [theme, theme === "dark"];
            },

            /* Business links keep the current filter query string. */
            navHrefs: function (search, ids) {
                return ids.map(function (id) { return id.path + (search || ""); });
            },

            navActive: function (pathname, ids) {
                var here = normalizePath(pathname);
                return ids.map(function (id) { return normalizePath(id.path) === here; });
            }
        }
    });
    window.dash_clientside.bi.syncGranularity = window.dash_clientside.bi.syncParam("granularity");

    /* Live pages: pause an Interval while the browser tab is hidden (no requests, no redraws).
       wrapperId is an element of the page that owns the Interval: once the page is left, its
       Interval is no longer touched. */
    window.dash_clientside.bi.pauseWhenHidden = function (intervalId, wrapperId) {
        var registry = window.biLiveIntervals = window.biLiveIntervals || {};
        registry[intervalId] = wrapperId;
        if (!window.biVisibilityHooked) {
            window.biVisibilityHooked = true;
            document.addEventListener("visibilitychange", function () {
                Object.keys(window.biLiveIntervals).forEach(function (id) {
                    if (document.getElementById(window.biLiveIntervals[id])) {
                        window.dash_clientside.set_props(id, {disabled: document.hidden});
                    }
                });
            });
        }
        return document.hidden;
    };
    /* The logs page's tail: only ticks of a visible tab reach the server. */
    window.dash_clientside.bi.visibleTick = function (n) {
        if (!n || document.hidden) { return window.dash_clientside.no_update; }
        return n;
    };
    window.dash_clientside.bi.not = function (value) { return !value; };
    window.dash_clientside.bi.syncRank = window.dash_clientside.bi.syncParam("rank");
    window.dash_clientside.bi.syncGrowthBy = window.dash_clientside.bi.syncParam("growth_by");
    window.dash_clientside.bi.syncTag = window.dash_clientside.bi.syncParam("tag");
    /* The Orders explorer's own filters in the URL (the filter bar writes the global ones). */
    window.dash_clientside.bi.syncOrderParams = function (query) {
        replaceParams(function (params) {
            ["status", "q"].forEach(function (key) {
                if (query && query[key]) { params.set(key, query[key]); } else { params.delete(key); }
            });
        });
        return window.dash_clientside.no_update;
    };
    /* The Sales page's status filter: a list in the store, a comma-separated ?status= in the URL. */
    window.dash_clientside.bi.syncStatuses = function (statuses) {
        return window.dash_clientside.bi.syncParam("status")((statuses || []).join(","));
    };
}());

/* Parts of a page that load as they come into view: an element with data-lazy-store="<id>" sets
   that dcc.Store's data to true once it is within 200 px of the viewport, and a callback of the
   page fills it in (the Customers list). Elements appear as Dash renders pages, so new ones are
   picked up as the document changes. */
(function () {
    if (!("IntersectionObserver" in window)) { return; }
    var watched = new WeakSet();
    var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
            var store = entry.target.getAttribute("data-lazy-store");
            if (!entry.isIntersecting || !store || !window.dash_clientside.set_props) { return; }
            observer.unobserve(entry.target);
            window.dash_clientside.set_props(store, {data: true});
        });
    }, {rootMargin: "200px 0px"});
    function watchNew() {
        document.querySelectorAll("[data-lazy-store]").forEach(function (element) {
            if (!watched.has(element)) {
                watched.add(element);
                observer.observe(element);
            }
        });
    }
    new MutationObserver(watchNew).observe(document.documentElement, {childList: true, subtree: true});
}());
