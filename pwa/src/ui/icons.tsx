// Small inline SVG icons (no icon font, no emoji font needed on the device).
const P = { fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round" } as const;

export const icons = {
  bell: (
    <svg viewBox="0 0 24 24" width="18" height="18" {...P}>
      <path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z" />
      <path d="M10 20.5a2 2 0 0 0 4 0" />
    </svg>
  ),
  today: (
    <svg viewBox="0 0 24 24" width="22" height="22" {...P}>
      <rect x="3.5" y="5" width="17" height="15.5" rx="2" />
      <path d="M3.5 10h17M8 3v4M16 3v4M8.5 15l2.2 2.2 4.8-4.7" />
    </svg>
  ),
  people: (
    <svg viewBox="0 0 24 24" width="22" height="22" {...P}>
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5" />
      <path d="M16 4.8a3.5 3.5 0 0 1 0 6.4M18 14.8c1.8.8 3 2.5 3.5 5.2" />
    </svg>
  ),
  visit: (
    <svg viewBox="0 0 24 24" width="22" height="22" {...P}>
      <path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z" />
      <circle cx="12" cy="9.5" r="2.5" />
    </svg>
  ),
  service: (
    <svg viewBox="0 0 24 24" width="22" height="22" {...P}>
      <path d="M14.7 6.3a4 4 0 0 0 5 5L21 12.6 12.6 21 3 11.4 11.4 3l1.3 1.3a4 4 0 0 0 2 2z" />
      <path d="M8 12l4 4" />
    </svg>
  ),
  sync: (
    <svg viewBox="0 0 24 24" width="22" height="22" {...P}>
      <path d="M20 11a8 8 0 0 0-14.3-4.9L4 8M4 4v4h4" />
      <path d="M4 13a8 8 0 0 0 14.3 4.9L20 16M20 20v-4h-4" />
    </svg>
  ),
  camera: (
    <svg viewBox="0 0 24 24" width="20" height="20" {...P}>
      <path d="M3 8h3l2-3h8l2 3h3v11H3z" />
      <circle cx="12" cy="13" r="3.5" />
    </svg>
  ),
  pin: (
    <svg viewBox="0 0 24 24" width="20" height="20" {...P}>
      <path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z" />
      <circle cx="12" cy="9.5" r="2.5" />
    </svg>
  ),
};
