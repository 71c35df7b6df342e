/* The page's language (the server writes it into <html lang>) for what formats in the browser:
   Plotly's month and day names and its modebar texts (assets/vendor/plotly-locale-ko.js), and the
   date pickers' month and day names (assets/vendor/date-fns-locale-*.min.js). */
(function () {
    "use strict";
    var lang = (document.documentElement.lang || "en").toLowerCase().split("-")[0];
    var DATE_FNS_KEYS = {en: "enUS", ko: "ko"};

    /* Plotly is loaded after this file and only when a page needs it: set its default locale the
       moment it arrives, before any figure is drawn (a figure's own config.locale still wins). */
    function configure(plotly) {
        if (plotly && typeof plotly.setPlotConfig === "function") {
            plotly.setPlotConfig({locale: lang});
        }
    }
    if (window.Plotly) {
        configure(window.Plotly);
    } else {
        var loaded;
        Object.defineProperty(window, "Plotly", {
            configurable: true,
            get: function () { return loaded; },
            set: function (value) { loaded = value; configure(value); }
        });
    }

    /* Dash's date pickers take the date-fns locale matching the browser's language, else the first
       one registered: keep only the page's own, so the user's choice wins over the browser's. */
    function keepPageLocale() {
        var locales = window.dateFns && window.dateFns.locale;
        var key = DATE_FNS_KEYS[lang] || "enUS";
        if (locales && locales[key]) {
            var only = {};
            only[key] = locales[key];
            window.dateFns.locale = only;
        }
    }
    document.addEventListener("DOMContentLoaded", keepPageLocale);

    /* Grid cells: numbers and money in the page's language with the browser's Intl (ICU, the same
       CLDR data Babel formats with on the server): money with its currency's own minor units
       (KRW 0, EUR 2, BHD 3). Columns call it as {"function": "biNumber(params.value, kind, code)"}
       (components/data_grid.py); dash-ag-grid finds it in window.dashAgGridFunctions. */
    var NUMBER_OPTIONS = {
        int: {maximumFractionDigits: 0},
        float: {minimumFractionDigits: 2, maximumFractionDigits: 2},
        percent: {style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1},
        change: {style: "percent", signDisplay: "exceptZero", minimumFractionDigits: 1,
                 maximumFractionDigits: 1}
    };
    var formatters = {};
    function numberFormat(kind, currency) {
        var key = kind + ":" + (currency || "");
        if (!formatters[key]) {
            var options = kind === "money"
                ? {style: "currency", currency: currency}
                : (NUMBER_OPTIONS[kind] || {});
            formatters[key] = new Intl.NumberFormat(lang, options);
        }
        return formatters[key];
    }
    var gridFunctions = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
    gridFunctions.biNumber = function (value, kind, currency) {
        if (value === null || value === undefined || value === "") {
            return "";
        }
        return numberFormat(kind, currency).format(value);
    };

    /* The language switch comes back to the page the user is on now (the app navigates without
       reloading, so the page the form was rendered on may be long gone). */
    document.addEventListener("submit", function (event) {
        var form = event.target;
        if (!form || !form.classList || !form.classList.contains("app-language-form")) {
            return;
        }
        var next = form.querySelector("input[name=next]");
        if (next) {
            next.value = window.location.pathname + window.location.search;
        }
    });
})();
