/*
 * dashboard.js - the relayguard-audit dashboard's pages
 *
 * Every value shown comes from the audit trail, which SMTP clients wrote:
 * it is put into the page with textContent or as a URL-encoded query
 * parameter, never as markup.  The server's Content-Security-Policy
 * allows scripts from this origin only, so nothing inline could run.
 * The page states what it shows in body[data-state] (loading, ready,
 * error) so that a test or a screen reader knows when it is complete.
 */
'use strict';

(function () {
	var REFRESH_MS = 60000;
	var RANGES = ['1h', '24h', '7d', '30d'];
	var COLOURS = ['#c0392b', '#2980b9', '#8e44ad', '#d35400', '#16a085',
		'#7f8c8d', '#f39c12', '#27ae60', '#2c3e50', '#e84393', '#6c5ce7',
		'#00b894', '#fdcb6e', '#636e72', '#b33939', '#218c74'];
	var params = new URLSearchParams(window.location.search);
	var charts = {};

	/* el - an element with text, never markup */
	function el(tag, text, cls) {
		var e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		return e;
	}

	function setText(id, value) {
		var e = document.getElementById(id);
		if (e)
			e.textContent = String(value);
	}

	function setState(state, message) {
		document.body.setAttribute('data-state', state);
		setText('status', message);
	}

	/* rangeParams - the time range of this page, as API parameters */
	function rangeParams() {
		var p = new URLSearchParams();
		var from = params.get('from'), to = params.get('to');
		if (from && /^[0-9]+$/.test(from))
			p.set('from', from);
		if (to && /^[0-9]+$/.test(to))
			p.set('to', to);
		if (!p.has('from')) {
			var r = params.get('range');
			p.set('range', RANGES.indexOf(r) >= 0 ? r : '24h');
		}
		return p;
	}

	function apiUrl(call, extra) {
		var p = rangeParams();
		Object.keys(extra || {}).forEach(function (k) {
			if (extra[k] !== null && extra[k] !== undefined && extra[k] !== '')
				p.set(k, extra[k]);
		});
		return '/api/' + call + '?' + p.toString();
	}

	function getJson(url) {
		return fetch(url, {credentials: 'same-origin'}).then(function (r) {
			return r.json().then(function (body) {
				if (!r.ok)
					throw new Error(body && body.error ? body.error : 'HTTP ' + r.status);
				return body;
			});
		});
	}

	function fmtTime(epoch) {
		return new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
	}

	/* the range bar: fixed ranges as links, a custom range as a form */
	function buildRangeBar() {
		var bar = document.getElementById('range');
		if (!bar)
			return;
		var current = params.has('from') ? 'custom' : (params.get('range') || '24h');
		RANGES.forEach(function (r) {
			var p = new URLSearchParams(params);
			p.delete('from');
			p.delete('to');
			p.set('range', r);
			var a = el('a', 'last ' + r, r === current ? 'current' : '');
			a.href = window.location.pathname + '?' + p.toString();
			bar.appendChild(a);
		});
		var form = el('form', null, 'custom');
		var from = el('input'), to = el('input'), go = el('button', 'show');
		from.type = to.type = 'datetime-local';
		from.name = 'from-local';
		to.name = 'to-local';
		form.appendChild(el('span', 'from (UTC)'));
		form.appendChild(from);
		form.appendChild(el('span', 'to'));
		form.appendChild(to);
		form.appendChild(go);
		var rp = rangeParams();
		if (rp.has('from')) {
			from.value = fmtTime(+rp.get('from')).slice(0, 16);
			if (rp.has('to'))
				to.value = fmtTime(+rp.get('to')).slice(0, 16);
		}
		form.addEventListener('submit', function (ev) {
			ev.preventDefault();
			var f = Date.parse(from.value + ':00Z'), t = Date.parse(to.value + ':00Z');
			if (isNaN(f))
				return;
			var p = new URLSearchParams(params);
			p.delete('range');
			p.set('from', String(Math.floor(f / 1000)));
			if (isNaN(t))
				p.delete('to');
			else
				p.set('to', String(Math.floor(t / 1000)));
			window.location.search = p.toString();
		});
		bar.appendChild(form);
		bar.appendChild(el('span', '', 'shown')).id = 'range-shown';
	}

	function showRange(body) {
		setText('range-shown', fmtTime(body.from) + ' \u2013 ' + fmtTime(body.to));
	}

	function chart(id, config) {
		var canvas = document.getElementById(id);
		if (!canvas || typeof window.Chart !== 'function')
			return;
		if (charts[id])
			charts[id].destroy();
		charts[id] = new window.Chart(canvas, config);
	}

	function bucketLabels(t) {
		return t.starts.map(function (s) {
			var iso = fmtTime(s);
			return t.bucket >= 86400 ? iso.slice(0, 10) : iso.slice(5, 16).replace('T', ' ');
		});
	}

	/* overview: cards, the three panels, two charts, the rule table */
	function loadOverview() {
		return Promise.all([getJson(apiUrl('summary')), getJson(apiUrl('timeline'))])
			.then(function (res) {
				var s = res[0], t = res[1];
				showRange(s);
				setText('total', s.total);
				setText('refused', s.refused);
				setText('rcpt-accepted', s.rcpt_accepted);
				setText('rcpt-refused', s.rcpt_refused);
				setText('monitored', s.monitored);
				['relay', 'blank', 'outside'].forEach(function (name) {
					setText('panel-' + name, s.panels[name]);
					var link = document.getElementById('panel-' + name + '-link');
					var p = rangeParams();
					p.set('panel', name);
					link.href = '/search.html?' + p.toString();
				});
				var tbody = document.querySelector('#by-rule tbody');
				tbody.textContent = '';
				s.by_rule.forEach(function (r) {
					var tr = el('tr');
					tr.appendChild(el('td', r.stage));
					tr.appendChild(el('td', r.rule));
					tr.appendChild(el('td', r.action));
					tr.appendChild(el('td', r.count, 'num'));
					tbody.appendChild(tr);
				});
				var labels = bucketLabels(t);
				chart('chart-refusals', {
					type: 'bar',
					data: {
						labels: labels,
						datasets: t.refused_by_rule.map(function (series, i) {
							return {label: series.rule, data: series.counts,
								backgroundColor: COLOURS[i % COLOURS.length]};
						})
					},
					options: {animation: false, maintainAspectRatio: false,
						scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true,
							ticks: {precision: 0}}}}
				});
				chart('chart-rcpt', {
					type: 'line',
					data: {
						labels: labels,
						datasets: [
							{label: 'accepted', data: t.rcpt_accepted, borderColor: '#27ae60',
								backgroundColor: '#27ae60'},
							{label: 'refused', data: t.rcpt_refused, borderColor: '#c0392b',
								backgroundColor: '#c0392b'}
						]
					},
					options: {animation: false, maintainAspectRatio: false,
						scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
				});
				document.body.setAttribute('data-timeline-total',
					String(t.verdicts.reduce(function (a, b) { return a + b; }, 0)));
				document.body.setAttribute('data-charts',
					typeof window.Chart === 'function' ? 'drawn' : 'missing');
			});
	}

	function exportLinks(holder, call, extra) {
		if (!holder)
			return;
		holder.textContent = '';
		holder.appendChild(el('span', 'export: '));
		['csv', 'json'].forEach(function (fmt) {
			var x = Object.assign({}, extra, {format: fmt, download: '1'});
			var a = el('a', fmt.toUpperCase());
			a.href = apiUrl(call, x);
			holder.appendChild(a);
			holder.appendChild(document.createTextNode(' '));
		});
	}

	function fillTable(table, body) {
		var thead = table.querySelector('thead'), tbody = table.querySelector('tbody');
		var tr = el('tr');
		thead.textContent = '';
		tbody.textContent = '';
		body.columns.forEach(function (c, i) {
			tr.appendChild(el('th', c, i >= 1 && typeof (body.rows[0] || [])[i] === 'number' ? 'num' : ''));
		});
		thead.appendChild(tr);
		body.rows.forEach(function (row) {
			var r = el('tr');
			row.forEach(function (v) {
				r.appendChild(el('td', v === null ? '-' : v, typeof v === 'number' ? 'num' : ''));
			});
			tbody.appendChild(r);
		});
		if (body.rows.length === 0) {
			var empty = el('tr');
			var td = el('td', 'nothing in this range');
			td.colSpan = body.columns.length;
			empty.appendChild(td);
			tbody.appendChild(empty);
		}
	}

	/* top: four tables, each with its export */
	function loadTop() {
		var sections = Array.prototype.slice.call(document.querySelectorAll('section[data-top]'));
		return Promise.all(sections.map(function (sec) {
			var what = sec.getAttribute('data-top');
			exportLinks(sec.querySelector('.export'), 'top', {what: what, limit: params.get('limit')});
			return getJson(apiUrl('top', {what: what, limit: params.get('limit')})).then(function (body) {
				showRange(body);
				fillTable(sec.querySelector('table'), body);
			});
		}));
	}

	var SEARCH_FIELDS = ['addr', 'client', 'session', 'queue', 'rule', 'action', 'panel'];

	function searchLink(field, value) {
		var p = rangeParams();
		p.set(field, value);
		var a = el('a', value);
		a.href = '/search.html?' + p.toString();
		return a;
	}

	/* the "why" of one verdict: everything the row knows, trace line by line */
	function detailRow(row, ncols) {
		var tr = el('tr', null, 'detail');
		var td = el('td');
		var dl = el('dl');
		td.colSpan = ncols;
		[['rule', row.rule], ['action', row.action],
			['reply', [row.code, row.ecode, row.text].filter(function (x) { return x !== null; }).join(' ')],
			['recipient as written', row.rcpt], ['final destination', row.rcpt_normalized],
			['sender as written', row.sender], ['sender class', row.sender_class],
			['client', (row.client_name || '-') + ' [' + (row.client_addr || '-') + ']'],
			['client trust', row.client_trust], ['HELO', row.helo], ['auth user', row.auth_user],
			['directory', row.directory_result], ['MTA', row.mta],
			['session', row.session_id], ['queue id', row.queue_id], ['row id', row.id]
		].forEach(function (kv) {
			dl.appendChild(el('dt', kv[0]));
			dl.appendChild(el('dd', kv[1] === null || kv[1] === undefined || kv[1] === '' ? '-' : kv[1]));
		});
		dl.appendChild(el('dt', 'normalization trace'));
		var dd = el('dd');
		var ol = el('ol', null, 'trace');
		(row.trace ? row.trace.split('; ') : []).forEach(function (step) {
			ol.appendChild(el('li', step));
		});
		if (!row.trace)
			dd.appendChild(el('span', '-'));
		dd.appendChild(ol);
		dl.appendChild(dd);
		td.appendChild(dl);
		tr.appendChild(td);
		tr.hidden = true;
		return tr;
	}

	/* search: the form keeps its values; rows newest first, each with its why */
	function loadSearch() {
		var form = document.getElementById('search');
		var extra = {limit: params.get('limit')};
		SEARCH_FIELDS.forEach(function (f) {
			var v = params.get(f);
			if (form.elements[f] && v !== null)
				form.elements[f].value = v;
			extra[f] = v;
		});
		['range', 'from', 'to'].forEach(function (f) {
			var v = params.get(f);
			if (v === null)
				form.elements[f].remove();
			else
				form.elements[f].value = v;
		});
		exportLinks(document.getElementById('search-export'), 'search', extra);
		return getJson(apiUrl('search', extra)).then(function (body) {
			showRange(body);
			var tbody = document.querySelector('#results tbody');
			var ncols = document.querySelectorAll('#results thead th').length;
			tbody.textContent = '';
			body.rows.forEach(function (values) {
				var row = {};
				body.columns.forEach(function (c, i) { row[c] = values[i]; });
				var tr = el('tr', null, 'verdict action-' + String(row.action).replace(/[^a-z-]/g, ''));
				tr.setAttribute('data-id', String(row.id));
				tr.appendChild(el('td', row.time));
				var client = el('td');
				client.appendChild(searchLink('client', row.client_addr || ''));
				client.appendChild(el('span', ' ' + (row.client_name || '')));
				tr.appendChild(client);
				tr.appendChild(el('td', row.helo));
				tr.appendChild(el('td', row.stage));
				tr.appendChild(el('td', row.sender));
				tr.appendChild(el('td', row.rcpt));
				tr.appendChild(el('td', row.rule));
				tr.appendChild(el('td', row.action));
				tr.appendChild(el('td', row.code === null ? '-' : row.code + (row.ecode ? ' ' + row.ecode : '')));
				var why = el('button', 'why?', 'why');
				why.type = 'button';
				var td = el('td');
				td.appendChild(why);
				tr.appendChild(td);
				var detail = detailRow(row, ncols);
				why.addEventListener('click', function () {
					detail.hidden = !detail.hidden;
				});
				tbody.appendChild(tr);
				tbody.appendChild(detail);
			});
			document.body.setAttribute('data-rows', String(body.rows.length));
			setText('status', body.rows.length + (body.truncated ? ' newest verdicts shown (limit ' +
				body.limit + ')' : ' verdicts'));
			if (params.get('open') === 'all')
				Array.prototype.forEach.call(tbody.querySelectorAll('tr.detail'), function (d) {
					d.hidden = false;
				});
		});
	}

	var loaders = {overview: loadOverview, top: loadTop, search: loadSearch};

	function load() {
		var page = document.body.getAttribute('data-page');
		var loader = loaders[page];
		if (!loader)
			return;
		loader().then(function () {
			if (document.body.getAttribute('data-page') !== 'search' ||
				document.getElementById('status').textContent === 'Loading\u2026')
				setText('status', 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC');
			document.body.setAttribute('data-state', 'ready');
		}).catch(function (err) {
			setState('error', 'error: ' + err.message);
		});
	}

	document.addEventListener('DOMContentLoaded', function () {
		buildRangeBar();
		load();
		/* a relative range follows the clock; a fixed one does not move */
		if (!params.has('to'))
			window.setInterval(load, REFRESH_MS);
	});
}());
