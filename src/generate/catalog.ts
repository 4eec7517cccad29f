/**
 * Fixed tables of the synthetic directory: formations (MEF, level, subjects), subjects and teachers'
 * disciplines, establishment names, places and people's names. All fictional; accented names on purpose
 * (they come out base64 in the LDIF, as in real exports).
 */
import type { EstablishmentKind } from './model.js';

export interface Formation {
  readonly kind: EstablishmentKind;
  /** The class code before its number (`6EME` → 6EME1) or, for LP formations, the whole first code. */
  readonly code: string;
  readonly mef: string;
  readonly libMef: string;
  /** ENTEleveNivFormation; `&` becomes `et` in Grouper names. */
  readonly niv: string;
  readonly filiere: string;
  /** Birth year of a student of this formation who is on time (school year 2025–2026). */
  readonly birthYear: number;
  /** Subject codes taught to every class of the formation. */
  readonly subjects: readonly string[];
}

const CLG_COMMON = ['020700', '061300', '043700', '030201', '062900', '070800', '100100', '080100', '081000'];
const CLG_LV2 = [...CLG_COMMON, '062300', '030602', '030102'];
const LP_COMMON = ['034100', '061600', '030201', '100100'];

// biome-ignore format: a table reads better one row per line
export const FORMATIONS: Readonly<Record<string, Formation>> = {
  '6EME': f('CLG', '6EME', '10010012110', '6EME', '6EME', '6EME', 2014, CLG_COMMON),
  '5EME': f('CLG', '5EME', '10110001110', '5EME', '5EME', '5EME', 2013, CLG_LV2),
  '4EME': f('CLG', '4EME', '10210001110', '4EME', '4EME', '4EME', 2012, CLG_LV2),
  '3EME': f('CLG', '3EME', '10310019110', '3EME', '3EME', '3EME', 2011, CLG_LV2),
  '2NDE': f('LYC', '2NDE', '20010018110', '2NDE GENERALE ET TECHNOLOGIQUE', 'SECONDE GENERALE & TECHNO YC BT',
    '2NDE GENERALE ET TECHNOLOGIQUE', 2010, ['020700', '061300', '043700', '030201', '030602', '062300', '062900', '050700', '100100']),
  '1G': f('LYC', '1G', '20110019110', '1ERE GENERALE', 'PREMIERE GENERALE & TECHNO YC BT', '1ERE GENERALE', 2009,
    ['020700', '043700', '030201', '030602', '100100']),
  TG: f('LYC', 'TG', '20210019110', 'TERMINALE GENERALE', 'TERMINALE GENERALE & TECHNO YC BT', 'TERMINALE GENERALE', 2008,
    ['011000', '043700', '030201', '030602', '100100']),
  '1STMG': f('LYC', '1STMG', '21131015110', '1ERE STMG', 'PREMIERE GENERALE & TECHNO YC BT', '1ERE STMG', 2009,
    ['020700', '061300', '043700', '030201', '100100', '040900']),
  TSTMG: f('LYC', 'TSTMG', '21231015110', 'TERMINALE STMG', 'TERMINALE GENERALE & TECHNO YC BT', 'TERMINALE STMG', 2008,
    ['011000', '061300', '043700', '030201', '100100', '040900']),
  '2PRO MELEC': f('LP', '2PRO MELEC', '24725201110', '2NDE PRO METIERS ELECTRICITE', 'SECONDE PROFESSIONNELLE', '2NDE PRO',
    2010, [...LP_COMMON, '130400']),
  '1PRO MELEC': f('LP', '1PRO MELEC', '24725201210', '1ERE PRO METIERS ELECTRICITE', 'PREMIERE PROFESSIONNELLE', '1ERE PRO',
    2009, [...LP_COMMON, '130400']),
  'TPRO MELEC': f('LP', 'TPRO MELEC', '24725201310', 'TERM PRO METIERS ELECTRICITE', 'TERMINALE PROFESSIONNELLE', 'TERM PRO',
    2008, [...LP_COMMON, '130400']),
  '2PRO COM': f('LP', '2PRO COM', '24731209110', '2NDE PRO METIERS DU COMMERCE', 'SECONDE PROFESSIONNELLE', '2NDE PRO', 2010,
    [...LP_COMMON, '150100']),
  '1PRO COM': f('LP', '1PRO COM', '24731209210', '1ERE PRO METIERS DU COMMERCE', 'PREMIERE PROFESSIONNELLE', '1ERE PRO', 2009,
    [...LP_COMMON, '150100']),
  'TBAC COM': f('LP', 'TBAC COM', '27631209310', 'TERM PRO METIERS DU COMMERCE', 'TERMINALE PROFESSIONNELLE', 'TERM PRO', 2008,
    [...LP_COMMON, '150100']),
  '1CAP CUIS': f('LP', '1CAP CUIS', '50022101110', 'CAP CUISINE 1ERE ANNEE', '1ERE ANNEE CAP 2 ANS', 'CAP EN 2 ANS', 2010,
    [...LP_COMMON, '220100']),
  '2CAP CUIS': f('LP', '2CAP CUIS', '50022101210', 'CAP CUISINE 2EME ANNEE', '2EME ANNEE CAP 2 ANS', 'CAP EN 2 ANS', 2009,
    [...LP_COMMON, '220100']),
};

function f(
  kind: EstablishmentKind,
  code: string,
  mef: string,
  libMef: string,
  niv: string,
  filiere: string,
  birthYear: number,
  subjects: readonly string[],
): Formation {
  return { kind, code, mef, libMef, niv, filiere, birthYear, subjects };
}

/** The order classes are opened in, per kind: frequent formations come back more often. */
export const FORMATION_CYCLE: Readonly<Record<EstablishmentKind, readonly string[]>> = {
  CLG: ['6EME', '5EME', '4EME', '3EME'],
  LYC: ['2NDE', '1G', 'TG', '2NDE', '1G', 'TG', '2NDE', '1STMG', 'TSTMG'],
  LP: ['2PRO MELEC', '1PRO MELEC', 'TPRO MELEC', '2PRO COM', '1PRO COM', 'TBAC COM', '1CAP CUIS', '2CAP CUIS'],
};

/** The code of the n-th class (1-based) of a formation: 6EME3, 1G2, or for LP `2PRO MELEC`, `2PRO MELEC B`. */
export function classCode(formation: Formation, n: number): string {
  if (formation.kind !== 'LP') return `${formation.code}${n}`;
  return n === 1 ? formation.code : `${formation.code} ${'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[(n - 1) % 26]}`;
}

export interface Subject {
  readonly label: string;
  /** Teachers' discipline: code, label, ENTAuxEnsCategoDiscipline. */
  readonly discipline: string;
  readonly disciplineLabel: string;
  readonly category: string;
}

const s = (label: string, discipline: string, disciplineLabel: string, category: string): Subject => ({
  label,
  discipline,
  disciplineLabel,
  category,
});

// biome-ignore format: a table reads better one row per line
export const SUBJECTS: Readonly<Record<string, Subject>> = {
  '020700': s('FRANCAIS', 'L0202', 'LETTRES MODERNES', '02$LETTRES'),
  '020300': s('LCA LATIN', 'L0201', 'LETTRES CLASSIQUES', '02$LETTRES'),
  '061300': s('MATHEMATIQUES', 'L1300', 'MATHEMATIQUES', '13$MATHEMATIQUES'),
  '043700': s('HISTOIRE-GEOGRAPHIE', 'L1000', 'HISTOIRE GEOGRAPHIE', '10$HISTOIRE GEOGRAPHIE'),
  '030201': s('ANGLAIS LV1', 'L0422', 'ANGLAIS', '04$LANGUES VIVANTES'),
  '030602': s('ESPAGNOL LV2', 'L0426', 'ESPAGNOL', '04$LANGUES VIVANTES'),
  '030102': s('ALLEMAND LV2', 'L0421', 'ALLEMAND', '04$LANGUES VIVANTES'),
  '062300': s('PHYSIQUE-CHIMIE', 'L1500', 'PHYSIQUE CHIMIE', '15$PHYSIQUE CHIMIE'),
  '062900': s('SCIENCES VIE ET TERRE', 'L1600', 'SCIENCES DE LA VIE ET DE LA TERRE', '16$SVT'),
  '070800': s('TECHNOLOGIE', 'L1400', 'TECHNOLOGIE', '14$TECHNOLOGIE'),
  '100100': s('EDUCATION PHYSIQUE ET SPORTIVE', 'L1900', 'EDUCATION PHYSIQUE ET SPORTIVE', '19$EPS'),
  '080100': s('ARTS PLASTIQUES', 'L1800', 'ARTS PLASTIQUES', '18$ARTS PLASTIQUES'),
  '081000': s('EDUCATION MUSICALE', 'L1700', 'EDUCATION MUSICALE', '17$EDUCATION MUSICALE'),
  '050700': s('SCIENCES ECONOMIQUES ET SOCIALES', 'L8012', 'SCIENCES ECONOMIQUES ET SOCIALES', '80$ECONOMIE'),
  '011000': s('PHILOSOPHIE', 'L0100', 'PHILOSOPHIE', '01$PHILOSOPHIE'),
  '040900': s('ECONOMIE-GESTION', 'L8011', 'ECONOMIE ET GESTION', '80$ECONOMIE'),
  '034100': s('LETTRES-HISTOIRE', 'P0210', 'LETTRES HISTOIRE GEOGRAPHIE', '02$LETTRES'),
  '061600': s('MATHEMATIQUES-SCIENCES', 'P1315', 'MATHEMATIQUES SCIENCES PHYSIQUES', '13$MATHEMATIQUES'),
  '130400': s('ELECTROTECHNIQUE', 'P5200', 'GENIE ELECTRIQUE ELECTROTECHNIQUE', '52$GENIE ELECTRIQUE'),
  '150100': s('VENTE', 'P8013', 'ECONOMIE GESTION VENTE', '80$ECONOMIE'),
  '220100': s('CUISINE', 'P8039', 'HOTELLERIE PRODUCTION', '83$HOTELLERIE'),
  '001000': s('DOCUMENTATION', 'L0080', 'DOCUMENTATION', '00$DOCUMENTATION'),
};

export const DOC_SUBJECT = '001000';

/**
 * Groups (ENTGroupe) opened per formation. `choice` says how students join: `lv2` exactly one of them (by
 * `share` as weight), `spe` a fixed number of them (SPECIALITIES), `option` each with probability `share`.
 */
export interface GroupTemplate {
  readonly code: string;
  readonly label: string;
  readonly subject: string;
  readonly choice: 'lv2' | 'spe' | 'option';
  readonly share: number;
  /** Teachers of this discipline teach the group (Latin by French teachers). */
  readonly teacherDiscipline: string;
}

const g = (
  code: string,
  label: string,
  subject: string,
  choice: GroupTemplate['choice'],
  share: number,
  teacherDiscipline = subject,
): GroupTemplate => ({ code, label, subject, choice, share, teacherDiscipline });

/** Latin and LV2 groups of a collège level: `5LAT`, `5ESP2`, `5ALL2`. */
const collegeGroups = (level: string): GroupTemplate[] => [
  g(`${level.charAt(0)}LAT`, `LATIN ${level}`, '020300', 'option', 0.15, '020700'),
  g(`${level.charAt(0)}ESP2`, `ESPAGNOL LV2 ${level}`, '030602', 'lv2', 0.7),
  g(`${level.charAt(0)}ALL2`, `ALLEMAND LV2 ${level}`, '030102', 'lv2', 0.3),
];

// biome-ignore format: a table reads better one row per line
export const GROUP_TEMPLATES: Readonly<Record<string, readonly GroupTemplate[]>> = {
  '5EME': collegeGroups('5EME'),
  '4EME': collegeGroups('4EME'),
  '3EME': collegeGroups('3EME'),
  '1G': [
    g('1G_SPE_MATHS', 'SPECIALITE MATHEMATIQUES 1ERE', '061300', 'spe', 1),
    g('1G_SPE_SES', 'SPECIALITE SES 1ERE', '050700', 'spe', 1),
    g('1G_SPE_PC', 'SPECIALITE PHYSIQUE-CHIMIE 1ERE', '062300', 'spe', 1),
    g('1G_SPE_SVT', 'SPECIALITE SVT 1ERE', '062900', 'spe', 1),
    g('1G_SPE_HGGSP', 'SPECIALITE HGGSP 1ERE', '043700', 'spe', 1),
  ],
  TG: [
    g('TG_SPE_MATHS', 'SPECIALITE MATHEMATIQUES TERMINALE', '061300', 'spe', 1),
    g('TG_SPE_SES', 'SPECIALITE SES TERMINALE', '050700', 'spe', 1),
    g('TG_SPE_PC', 'SPECIALITE PHYSIQUE-CHIMIE TERMINALE', '062300', 'spe', 1),
    g('TG_ANG_EURO', 'SECTION EUROPEENNE ANGLAIS', '030201', 'option', 0.1),
  ],
  '2PRO MELEC': [g('AP 2PRO', 'ACCOMPAGNEMENT PERSONNALISE 2PRO', '034100', 'option', 0.5)],
  '2PRO COM': [g('AP 2PRO', 'ACCOMPAGNEMENT PERSONNALISE 2PRO', '034100', 'option', 0.5)],
};

/** How many `spe` groups a student of the formation takes. */
export const SPECIALITIES: Readonly<Record<string, number>> = { '1G': 3, TG: 2 };

/** Establishment names: as written (accents, apostrophes); the Grouper name is derived from them. */
// biome-ignore format: a table reads better one row per line
export const ESTABLISHMENT_NAMES = [
  'JEAN MOULIN', 'VICTOR HUGO', 'JULES FERRY', 'MARIE CURIE', 'GEORGE SAND', 'PAUL ÉLUARD', 'LÉONARD DE VINCI',
  'CHARLES PÉGUY', "JEANNE D'ARC", "DE L'ÉTANG", 'LES PRÉS VERTS', 'ALBERT CAMUS', 'CONDORCET', 'ANDRÉ MALRAUX',
  'FRANÇOIS RABELAIS', 'PIERRE DE RONSARD', 'JACQUES PRÉVERT', 'LOUIS PASTEUR', 'ÉMILE ZOLA', 'SAINT-EXUPÉRY',
  'LE GRAND CÈDRE', 'DES TILLEULS', 'GASTON BACHELARD', 'DU VAL DE LOIRE', 'DESCARTES', 'ALAIN-FOURNIER',
  'MAURICE GENEVOIX', 'ANNE DE BEAUJEU', 'ROSA PARKS', 'SIMONE VEIL', 'OLYMPE DE GOUGES', 'CHAPTAL', 'VOLTAIRE',
  'COLETTE', 'LA FONTAINE', 'MOLIÈRE', 'RENÉ CASSIN', 'HONORÉ DE BALZAC', "LES BORDS DE L'INDRE", 'LOUISE MICHEL',
];

// biome-ignore format: a table reads better one row per line
export const CITIES: readonly (readonly [city: string, postalCode: string])[] = [
  ['ORLEANS', '45000'], ['MONTARGIS', '45200'], ['TOURS', '37000'], ['BLOIS', '41000'], ['BOURGES', '18000'],
  ['CHARTRES', '28000'], ['CHATEAUROUX', '36000'], ['GIEN', '45500'], ['VIERZON', '18100'], ['AMBOISE', '37400'],
  ['DREUX', '28100'], ['VENDOME', '41100'], ['ISSOUDUN', '36100'], ['PITHIVIERS', '45300'],
  ['JOUE-LES-TOURS', '37300'], ['OLIVET', '45160'],
];

// biome-ignore format: a table reads better one row per line
export const STREETS = [
  'RUE DES ACACIAS', 'AVENUE DES TILLEULS', 'RUE DU MOULIN', 'BOULEVARD JEAN JAURES', 'RUE DE LA REPUBLIQUE',
  'ALLEE DES CHENES', 'RUE VICTOR HUGO', 'CHEMIN DES PRES', 'RUE DU CHATEAU', 'PLACE DE LA MAIRIE', 'RUE PASTEUR',
  'IMPASSE DES LILAS', 'RUE DE LA GARE', 'AVENUE DE PARIS', 'RUE SAINT-MARTIN', 'RUE DES ÉCOLES', 'QUAI DE LOIRE',
];

// biome-ignore format: a table reads better one row per line
export const GIVEN_F = [
  'Éloïse', 'Inès', 'Zoé', 'Chloé', 'Léa', 'Anaïs', 'Camille', 'Jade', 'Sarah', 'Clémence', 'Emma', 'Louise',
  'Alice', 'Manon', 'Lina', 'Rose', 'Anna', 'Juliette', 'Ambre', 'Maëlys', 'Océane', 'Noémie', 'Agathe', 'Héloïse',
  'Lou', 'Mila', 'Nour', 'Yasmine', 'Fatima', 'Aïcha', 'Hélène', 'Sophie', 'Nathalie', 'Martine', 'Corinne',
  'Sandrine', 'Céline', 'Isabelle', 'Valérie', 'Mélanie', 'Aurélie', 'Émilie', 'Marie-Claire', 'Anne-Sophie',
  'Gaëlle', 'Awa',
];

// biome-ignore format: a table reads better one row per line
export const GIVEN_M = [
  'Noé', 'François', 'Lucas', 'Adam', 'Hugo', 'Théo', 'Maël', 'Yanis', 'Kévin', 'Enzo', 'Jean-Baptiste', 'Louis',
  'Gabriel', 'Raphaël', 'Arthur', 'Jules', 'Léo', 'Nathan', 'Tom', 'Ethan', 'Mathéo', 'Timothée', 'Noah', 'Sacha',
  'Rayan', 'Ibrahim', 'Mohamed', 'Karim', 'Ahmed', 'Rémi', 'Olivier', 'Pierre-Yves', 'Jérôme', 'Paul', 'Thomas',
  'Gérard', 'Bernard', 'Stéphane', 'Frédéric', 'Sébastien', 'Jérémy', 'Loïc', 'Cédric', 'Hervé', 'Joël', 'Moussa',
];

// biome-ignore format: a table reads better one row per line
export const SURNAMES = [
  'MARTIN', 'BERNARD', 'DUBOIS', 'THOMAS', 'ROBERT', 'RICHARD', 'PETIT', 'DURAND', 'LEROY', 'MOREAU', 'SIMON',
  'LAURENT', 'LEFÈVRE', 'MICHEL', 'GARCIA', 'DAVID', 'BERTRAND', 'ROUX', 'VINCENT', 'FOURNIER', 'MOREL', 'GIRARD',
  'ANDRÉ', 'MERCIER', 'DUPONT', 'LAMBERT', 'BONNET', 'FRANÇOIS', 'MARTINEZ', 'LEGRAND', 'GARNIER', 'FAURE',
  'ROUSSEAU', 'BLANC', 'GUÉRIN', 'MULLER', 'HENRY', 'ROUSSEL', 'NICOLAS', 'PERRIN', 'MORIN', 'MATHIEU', 'CLÉMENT',
  'GAUTHIER', 'DUMONT', 'LOPEZ', 'FONTAINE', 'CHEVALIER', 'ROBIN', 'MASSON', 'SANCHEZ', 'GÉRARD', 'NGUYEN', 'BOYER',
  'DENIS', 'LEMAIRE', 'DUVAL', 'JOLY', 'ROGER', 'ROCHE', 'ROY', 'NOËL', 'MEYER', 'LUCAS', 'MEUNIER', 'PÉREZ',
  'MARCHAND', 'DUFOUR', 'BLANCHARD', 'BARBIER', 'BRUN', 'DUMAS', 'BRUNET', 'SCHMITT', 'LEROUX', 'COLIN', 'FERNANDEZ',
  "D'ALMEIDA", 'LE GALL', 'MARTIN-DUBOIS', 'BENSAÏD', 'HADDAD', 'BENALI', 'KACI', 'BOUZID', 'LOPES', 'DA SILVA',
  "N'DIAYE", 'LE BRIS', 'DE LA FONTAINE', 'ÉTIENNE', 'TRAORÉ', 'COULIBALY', 'DIALLO', 'BOUCHER', 'CARON', 'HÉBERT',
];
